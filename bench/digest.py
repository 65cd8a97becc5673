"""Digests over a million cases: the portal's set-based build beside a naive loop.

    python bench/digest.py                 # builds bench_digest once, then times
    python bench/digest.py --rebuild       # regenerate the data
    python bench/digest.py --runs 7 --cases 1000000

What it does: creates the scratch PostgreSQL database ``bench_digest`` (on
``--server``, default the local one), migrates it with the portal's Alembic
migrations, loads the sample city's 58 departments and their leaders, then
generates ``--cases`` cases spread over the year before 2026-03-02 08:00 (Beijing)
**in SQL** (``generate_series`` with a fixed ``setseed``: no row crosses the wire),
with ratings, 整改, 退单 and 延期 in the proportions below, and ANALYZEs.

Then, in one process and one run, it times:

* **project** — ``DigestSender.daily(..., dry_run=True)``: every 分管领导's daily digest
  for 2026-03-02 built *and rendered* (text + HTML), exactly the mail the scheduler
  queues, minus the INSERT into the outbox; and ``DigestSender.weekly(...)`` for the
  mayor (ranking of all 58 departments on two weeks of statistics, 8-week history,
  longest overdue, jieba topics over the week's ~19,000 cases, rendered).
* **naive** — the same content the obvious way: for each leader, for each of their
  departments, the ``complaints.stats`` list queries (ORM objects, no cut); for the
  weekly, ``department_stats`` once per department per week, overdue lists per
  department, and the same topics. No rendering (it only makes the naive side faster).

Each figure is the median of ``--runs`` runs after one warm-up run, and the script
prints ``weekly_s=… daily_all_s=…`` for each side. Targets (issue 6): weekly < 2 s,
all daily digests < 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PERIOD = date(2026, 3, 2)
END = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)

TOPICS = [
    "营业执照变更审批时限过长", "厂区周边道路施工噪音扰民", "拖欠工资未按时发放",
    "社保缴费基数核定有误", "增值税留抵退税进度缓慢", "消防验收排期太久",
    "工业园区停电频繁", "污水管网堵塞影响生产", "招聘补贴申领材料繁琐",
    "高新技术企业认定咨询", "不动产登记办理慢", "货车通行证难以办理",
    "用地指标审批进度", "食品经营许可证续期", "出口退税资金到账慢",
    "园区道路积水", "人才公寓申请条件咨询", "电费阶梯价格异议",
    "环评审批材料要求不明", "跨境电商监管仓申报", "公积金缴存比例调整",
    "商标侵权投诉", "校园周边交通拥堵", "冷链运输车辆限行",
    "网络信号差影响经营", "燃气管道接入费用高", "施工许可证办理流程",
    "外籍员工工作许可办理",
]  # fmt: skip
DETAILS = [
    "多次到政务服务中心窗口咨询均未得到明确答复。", "已影响企业正常生产经营和员工生活。",
    "希望有关部门尽快协调处理并给予答复。", "相关材料已按要求提交，至今没有进展。",
    "周边多家企业反映同样问题。", "请求明确办理时限和所需材料清单。",
    "园区管委会表示需要市直部门协调。", "夜间作业持续到凌晨，严重扰民。",
]  # fmt: skip


def create_database(server: str, name: str, rebuild: bool) -> bool:
    """Create the scratch database; True if it is new (needs data)."""
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and rebuild:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return not exists


def generate(url: str, cases: int) -> None:
    from alembic import command

    from portal.cli import alembic_config
    from portal.db import make_engine, make_session_factory
    from portal.sampledata.people import load_departments, load_leaders

    settings = {"sqlalchemy.url": url}
    engine = make_engine(settings)
    started = time.perf_counter()
    with engine.begin() as connection:
        cfg = alembic_config(settings)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with make_session_factory(engine)() as session:
        load_leaders(session, load_departments(session))
        session.commit()
    # Every value is a bound parameter: :end (the benchmark's "now"), :n, the arrays.
    statements = [
        "SELECT setseed(0.2026)",
        # Cases: received uniformly over the year; departments skewed (a few busy
        # ones); most closed within days, 0.4 % stuck open (the overdue ones).
        """
        INSERT INTO cases (kind, title, description, state, source, contact_name, contact_email,
            contact_phone, department_id, owner_department_id, requested_department_id, address,
            received_at, updated_at, dispatched_at, signed_at, sign_due_at, reply_due_at,
            close_due_at, closed_at, first_reply_at, handling_seconds, return_count,
            extension_count, supervised)
        SELECT kind, title, description,
               CASE WHEN closed_at IS NULL THEN 'handling' ELSE 'closed' END,
               'web', '', '', '', dept, dept, dept, '',
               received_at, coalesce(closed_at, received_at), received_at,
               received_at + sign_delay, received_at + interval '4 hours',
               received_at + (limit_days / 2) * interval '1 day',
               received_at + limit_days * interval '1 day',
               closed_at, closed_at,
               extract(epoch FROM closed_at - received_at)::int, 0, 0, false
        FROM (
          SELECT *, CASE WHEN stuck OR received_at + handling > :end THEN NULL
                         ELSE received_at + handling END AS closed_at
          FROM (
            SELECT a.kinds[1 + floor(random() * cardinality(a.kinds))::int] AS kind,
                   a.topics[1 + floor(random() * cardinality(a.topics))::int]
                     || '（' || g || '）' AS title,
                   a.details[1 + floor(random() * cardinality(a.details))::int]
                     || a.details[1 + floor(random() * cardinality(a.details))::int]
                     AS description,
                   t.depts[1 + floor(cardinality(t.depts) * power(random(), 1.6))::int] AS dept,
                   :end - random() * interval '365 days' AS received_at,
                   random() * interval '6 hours' AS sign_delay,
                   power(random(), 2) * interval '25 days' AS handling,
                   (ARRAY[3, 14, 21])[1 + floor(random() * 3)::int] AS limit_days,
                   random() < 0.004 AS stuck,
                   g
            FROM generate_series(1, :n) g,
                 (SELECT array_agg(id ORDER BY id) AS depts FROM departments) t,
                 (SELECT CAST(:kinds AS text[]) AS kinds, CAST(:topics AS text[]) AS topics,
                         CAST(:details AS text[]) AS details) a
          ) s
        ) c
        ORDER BY received_at  -- as a live table fills: each week's cases sit together
        """,
        # Ratings on 60 % of closed cases; 6 % of them bad (levels 1-2).
        """
        INSERT INTO case_ratings (case_id, round, level, comment, department_id, rated_at)
        SELECT id, 1, level, CASE WHEN level < 3 THEN '处理不及时，态度敷衍' ELSE '' END,
               department_id, rated_at
        FROM (SELECT id, department_id, closed_at + random() * interval '2 days' AS rated_at,
                     (ARRAY[5,5,5,5,5,5,5,5,5,5,4,4,4,4,4,3,3,2,1,1])[1 + floor(random() * 20)::int]
                       AS level
              FROM cases WHERE closed_at IS NOT NULL AND random() < 0.6) r
        WHERE rated_at < :end
        """,
        """
        INSERT INTO case_rectifications (case_id, rating_id, department_id, opened_at, due_at,
            followup_note, followup_at, closed_at)
        SELECT case_id, id, department_id, rated_at, rated_at + interval '14 days', '',
               fixed, fixed
        FROM (SELECT *, CASE WHEN random() < 0.9 AND rated_at + interval '10 days' < :end
                             THEN rated_at + random() * interval '10 days' END AS fixed
              FROM case_ratings WHERE level < 3) b
        """,
        # 退单 on 2 % and 延期 on 3 % of cases; those of the last two days undecided.
        """
        INSERT INTO case_returns (case_id, department_id, reason, requested_at, decision,
            decided_at, decision_note)
        SELECT id, department_id, '不属于本部门职责范围', at,
               CASE WHEN at > :end - interval '2 days' THEN 'pending'
                    WHEN random() < 0.7 THEN 'approved' ELSE 'rejected' END,
               CASE WHEN at > :end - interval '2 days' THEN NULL
                    ELSE at + interval '4 hours' END, ''
        FROM (SELECT id, department_id, received_at + random() * interval '8 hours' AS at
              FROM cases WHERE random() < 0.02) r WHERE at < :end
        """,
        """
        INSERT INTO case_extensions (case_id, department_id, reason, previous_due_at,
            requested_due_at, requested_at, decision, decided_at, decision_note)
        SELECT id, department_id, '需要现场核查', close_due_at,
               close_due_at + interval '7 days', at,
               CASE WHEN at > :end - interval '2 days' THEN 'pending' ELSE 'approved' END,
               CASE WHEN at > :end - interval '2 days' THEN NULL
                    ELSE at + interval '1 day' END, ''
        FROM (SELECT id, department_id, close_due_at,
                     received_at + random() * (close_due_at - received_at) AS at
              FROM cases WHERE random() < 0.03) e WHERE at < :end
        """,
    ]
    params = {
        "end": END,
        "n": cases,
        "kinds": ["consult", "help", "complaint", "report", "suggestion"],
        "topics": TOPICS,
        "details": DETAILS,
    }
    with engine.begin() as conn:
        for statement in statements:
            sql = text(statement)
            conn.execute(sql, {k: v for k, v in params.items() if f":{k}" in statement})
    # What autovacuum does in production: statistics, and the visibility map that
    # lets range counts be index-only scans.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        counts = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in (
                "cases",
                "case_ratings",
                "case_rectifications",
                "case_returns",
                "case_extensions",
            )
        }
    engine.dispose()
    print(f"generated in {time.perf_counter() - started:.0f} s: {counts}")


# -- the two sides -----------------------------------------------------------------------
def project_side(session: Any, sender: Any) -> dict[str, Callable[[], Any]]:
    def daily_all() -> Any:
        report = sender.daily(session, PERIOD, now=END, dry_run=True)
        return len(report.previews)

    def weekly() -> Any:
        return len(sender.weekly(session, PERIOD, now=END, dry_run=True).previews)

    return {"daily_all": daily_all, "weekly": weekly}


def naive_side(session: Any, schedule: Any) -> dict[str, Callable[[], Any]]:
    from portal.complaints import stats
    from portal.digests import content, topics
    from portal.digests.periods import daily_window, weekly_window

    def daily_all() -> Any:
        window = daily_window(schedule, PERIOD)
        today = schedule.midnight(PERIOD)
        tomorrow, after = today + timedelta(days=1), today + timedelta(days=2)
        found = 0
        for leader in content.supervisors(session):
            for dept in leader.departments:
                ids = [dept.id]
                found += len(stats.cases_received(session, window.start, window.end, ids))
                found += len(stats.cases_due(session, today, tomorrow, ids))
                found += len(stats.cases_due(session, tomorrow, after, ids))
                found += len(stats.overdue_cases(session, END, ids))
                found += len(stats.bad_ratings(session, window.start, window.end, ids))
                found += len(stats.pending_returns(session, ids))
                found += len(stats.pending_extensions(session, ids))
        return found

    def weekly() -> Any:
        window, before = weekly_window(schedule, PERIOD), weekly_window(schedule, PERIOD, 1)
        rows = []
        for dept_id in content.departments_by_id(session):
            this = stats.department_stats(session, window.start, window.end, [dept_id])
            prev = stats.department_stats(session, before.start, before.end, [dept_id])
            late = stats.overdue_cases(session, END, [dept_id], limit=10)
            rows.append((this, prev, late))
        week = content._week_texts(session, window)
        last = content._week_texts(session, before)
        return len(rows), len(topics.recurring(week, last))

    return {"daily_all": daily_all, "weekly": weekly}


def backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend serving this session has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn: Callable[[], Any], runs: int, pid: int) -> tuple[float, float, Any]:
    """Median wall time, and median CPU time (this process + its PostgreSQL backend):
    on a shared machine the CPU figure is what the work costs, the wall time what
    the other load added to it."""
    result = fn()  # warm-up: caches, plans, jieba's dictionary
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, db0, start = time.process_time(), backend_cpu(pid), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu0 + backend_cpu(pid) - db0)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_digest")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="drop and regenerate the data")
    args = parser.parse_args()

    url = f"{args.server}/{args.database}"
    if create_database(args.server, args.database, args.rebuild):
        generate(url, args.cases)

    import portal.models  # noqa: F401
    from portal.clock import FrozenClock
    from portal.complaints.models import Case
    from portal.db import make_engine, make_session_factory
    from portal.digests.periods import Schedule
    from portal.digests.service import from_settings
    from portal.mail.outbox import OutboxMailer
    from portal.settings import load

    settings = load({"here": ROOT, "sqlalchemy.url": url}, environ={})
    engine = make_engine(settings)
    session = make_session_factory(engine)()
    total = session.scalar(select(text("count(*)")).select_from(Case))
    mailer = OutboxMailer(FrozenClock(END), sender=settings["qzt.mail.sender"], domain="bench")
    sender = from_settings(
        settings, mailer, lambda case_id: f"https://qzt.example.gov.cn/cases/{case_id}"
    )
    schedule = Schedule.from_settings(settings)

    pid = session.scalar(text("SELECT pg_backend_pid()"))
    load = os.getloadavg()[0]
    print(
        f"{total:,} cases in {args.database}; period {PERIOD}; median of {args.runs} runs; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    results = {}
    sides = (("project", project_side(session, sender)), ("naive", naive_side(session, schedule)))
    for name, side in sides:
        weekly_s, weekly_cpu, weekly_n = timed(side["weekly"], args.runs, pid)
        daily_s, daily_cpu, daily_n = timed(side["daily_all"], args.runs, pid)
        session.rollback()
        results[name] = (weekly_s, daily_s, weekly_cpu, daily_cpu)
        print(
            f"{name:8s} weekly_s={weekly_s:.3f} daily_all_s={daily_s:.3f}   "
            f"cpu: weekly={weekly_cpu:.3f} daily_all={daily_cpu:.3f}   "
            f"(weekly: {weekly_n}, daily: {daily_n})"
        )
    weekly_s, daily_s, weekly_cpu, daily_cpu = results["project"]
    naive = results["naive"]
    print(
        f"target weekly < 2 s: {'met' if weekly_s < 2 else 'MISSED'} (cpu {weekly_cpu:.2f} s); "
        f"all daily < 1 s: {'met' if daily_s < 1 else 'MISSED'} (cpu {daily_cpu:.2f} s); "
        f"speed-up weekly ×{naive[0] / weekly_s:.1f}, daily ×{naive[1] / daily_s:.1f}"
    )
    session.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
