"""What the digests say: the daily sections per 分管领导, the weekly ranking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from portal.complaints.models import CaseState
from portal.digests import content
from portal.digests.periods import Schedule
from tests import factories_digests as fd
from tests.factories import DepartmentFactory
from tests.timeline import START

PERIOD = date(2026, 3, 2)  # START is this Monday, 09:30 in Beijing


@pytest.fixture
def schedule(settings: dict[str, Any]) -> Schedule:
    return Schedule.from_settings(settings)


def bj(m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(2026, m, d, hh, mm, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


@pytest.fixture
def city(dbsession: Any) -> fd.City:
    return fd.City(dbsession)


def titles(part: content.Part) -> list[str]:
    return [line.title for line in part.lines]


def by_leader(digests: list[content.DailyDigest]) -> dict[str, content.DailyDigest]:
    return {d.recipient.name: d for d in digests}


def test_the_daily_digest_lists_each_section_for_the_leaders_departments(dbsession, schedule, city):
    a, b, c = city.a.id, city.b.id, city.c.id
    case = fd.CaseFactory
    case(department_id=a, title="新-市场", received_at=bj(3, 1, 10))
    case(department_id=b, title="新-人社", received_at=bj(3, 1, 23, 59))
    case(department_id=a, title="前天的", received_at=bj(2, 28, 23))
    case(department_id=c, title="今早的-住建", received_at=bj(3, 2, 7))
    case(department_id=a, title="今天到期", received_at=bj(2, 20), close_due_at=bj(3, 2, 18))
    case(department_id=b, title="明天到期", received_at=bj(2, 20), close_due_at=bj(3, 3, 10))
    case(department_id=a, title="后天到期", received_at=bj(2, 20), close_due_at=bj(3, 4, 10))
    late = case(department_id=a, title="超期", received_at=bj(2, 1), close_due_at=bj(2, 27))
    case(
        department_id=a, title="超期已办结", received_at=bj(2, 1), close_due_at=bj(2, 27),
        closed_at=bj(3, 1), state=CaseState.CLOSED.value,
    )  # fmt: skip
    case(
        department_id=a, title="已并单", received_at=bj(2, 1), close_due_at=bj(2, 27),
        state=CaseState.MERGED.value,
    )  # fmt: skip
    redo = case(
        department_id=b, title="整改超期", received_at=bj(2, 1), close_due_at=bj(2, 16),
        closed_at=bj(2, 14), state=CaseState.RECTIFYING.value,
    )  # fmt: skip
    dbsession.flush()
    bad = fd.rating(late, 2, bj(3, 1, 12), "一直没人处理")
    dbsession.add_all(
        [bad, fd.rating(redo, 4, bj(3, 1, 9), round=2), fd.rating(redo, 1, bj(2, 27))]
    )
    dbsession.flush()
    dbsession.add(fd.rectification(redo, bad, bj(2, 20), bj(3, 1, 18)))
    dbsession.add(fd.returned(redo, bj(3, 1, 15), "应由住建部门办理"))
    done = fd.returned(late, bj(2, 26))
    done.decision = "rejected"
    dbsession.add_all([done, fd.extension(late, bj(3, 1, 16), days=7)])
    dbsession.flush()

    digests = by_leader(content.build_daily(dbsession, schedule, PERIOD))
    assert set(digests) == {"王强", "李敏"}  # the mayor supervises no department
    wang = digests["王强"]
    assert [d.name for d in wang.departments] == [city.a.name, city.b.name]
    assert wang.recipient.deputy_email == "chen.sec@example.gov.cn"
    assert titles(wang.new) == ["新-市场", "新-人社"]
    assert titles(wang.due_today) == ["今天到期"]
    assert titles(wang.due_tomorrow) == ["明天到期"]
    assert titles(wang.overdue) == ["超期", "整改超期"]
    assert [line.clock for line in wang.overdue.lines] == ["close", "rectify"]
    assert titles(wang.bad_ratings) == ["超期"]
    assert wang.bad_ratings.lines[0].note == "一直没人处理"
    assert titles(wang.returns) == ["整改超期"]
    assert titles(wang.extensions) == ["超期"]
    assert wang.extensions.lines[0].requested_due_at == bj(3, 6)
    assert wang.counts[a] == {
        "new": 1, "due_today": 1, "due_tomorrow": 0, "overdue": 1, "bad_ratings": 1,
        "returns": 0, "extensions": 1,
    }  # fmt: skip
    assert not wang.empty
    assert wang.as_of == bj(3, 2, 8)
    assert wang.new.lines[0].number == f"20260301{wang.new.lines[0].case_id:06d}"

    li = digests["李敏"]
    assert li.empty  # 今早的 arrived after yesterday ended
    live = content.build_daily(
        dbsession, schedule, PERIOD, leaders=[city.li], now=START, live=True
    )[0]
    assert titles(live.new) == ["今早的-住建"]
    assert live.as_of == START


def test_long_lists_are_cut_per_department_and_counted(dbsession, schedule, city):
    for n in range(5):
        fd.CaseFactory(department_id=city.a.id, title=f"A{n}", received_at=bj(3, 1, 8 + n))
    fd.CaseFactory(department_id=city.b.id, title="B0", received_at=bj(3, 1, 9))
    dbsession.flush()
    [wang] = content.build_daily(dbsession, schedule, PERIOD, leaders=[city.wang], limit=2)
    assert titles(wang.new) == ["A0", "A1", "B0"]
    assert (wang.new.total, wang.new.more) == (6, 3)


def test_the_weekly_digest_ranks_every_department_and_compares_weeks(dbsession, schedule, city):
    a, b = city.a.id, city.b.id
    idle = DepartmentFactory(name="市档案馆（测试）", short_name="档案")

    def closed_case(dept: int, received: datetime, closed: datetime, due: datetime, **kw: Any):
        return fd.CaseFactory(
            department_id=dept, received_at=received, closed_at=closed, close_due_at=due,
            signed_at=received + timedelta(hours=1), sign_due_at=received + timedelta(hours=4),
            handling_seconds=int((closed - received).total_seconds()),
            state=CaseState.CLOSED.value, **kw,
        )  # fmt: skip

    # A: three this week, all closed on time; B: two, one closed late, one overdue.
    for day in (23, 24, 25):
        closed_case(
            a, bj(2, day, 9), bj(2, day + 1, 9), bj(3, 5), description="园区道路施工噪音扰民"
        )
    closed_case(b, bj(2, 23, 9), bj(2, 28, 9), bj(2, 26), description="拖欠工资未发放")
    stuck = fd.CaseFactory(
        department_id=b, received_at=bj(2, 24), close_due_at=bj(2, 27), description="噪音扰民"
    )
    # the week before: A had one case
    fd.CaseFactory(department_id=a, received_at=bj(2, 18))
    # an older case, overdue longest
    oldest = fd.CaseFactory(department_id=a, received_at=bj(1, 5), close_due_at=bj(1, 20))
    dbsession.flush()

    weekly = content.build_weekly(dbsession, schedule, PERIOD)
    assert (weekly.window.first_day, weekly.window.last_day) == (
        date(2026, 2, 23),
        date(2026, 3, 1),
    )
    ranked = {row.dept.id: row for row in weekly.rows}
    assert ranked[a].rank == 1
    assert ranked[b].rank == 2
    assert ranked[idle.id].rank == 0
    assert [row.dept.id for row in weekly.rows][:2] == [a, b]
    assert weekly.rows[-1].score is None
    assert ranked[a].this.received == 3
    assert ranked[a].prev.received == 1
    assert ranked[b].this.close_on_time_rate == 0.0
    assert ranked[b].this.overdue == 1
    assert (weekly.total.received, weekly.prev_total.received) == (5, 1)
    assert [line.case_id for line, _ in weekly.longest_overdue] == [oldest.id, stuck.id]
    assert weekly.longest_overdue[0][1].id == a
    history = {first: (r, c) for first, r, c in weekly.history}
    assert len(weekly.history) == 8
    assert history[date(2026, 2, 23)] == (5, 4)
    assert history[date(2026, 2, 16)] == (1, 0)
    assert history[date(2026, 1, 5)] == (1, 0)
    assert [t.word for t in weekly.topics][:2] == ["噪音", "扰民"]
    assert weekly.topics[0].cases == 4
