"""Sample cases (诉求): the routing catalogue and a dozen cases in every stage, filed
by the demo enterprise and worked by the demo departments, so ``make run`` shows
the case lists, a case at each step, the statistics and the Open311 API.

The cases go through the real :class:`~portal.complaints.services.CaseService`
on a clock that moves from one step to the next, so deadlines, the audit trail
and the statistics are those the portal itself would have produced. Nobody is
mailed: loading sample data is not an event anyone should hear about.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.clock import FrozenClock
from portal.complaints.catalogue import load_catalogue
from portal.complaints.models import Case
from portal.complaints.notify import Notifier, make_translator
from portal.complaints.policy import CasePolicy
from portal.complaints.services import CaseService
from portal.content.files import LocalFileStorage
from portal.departments.models import Department


class _QuietMailer:
    """Sample data queues no mail (``IMailer.queue`` with nothing to deliver)."""

    def queue(self, session: Session, **kw: Any) -> int | None:
        return None


# (days before BASE_TIME it was filed, login, kind, category, department code or None,
#  title, description, the steps it went through: (hours later, login, transition, params))
Step = tuple[float, str, str, dict[str, Any]]
REPLIED: list[Step] = [
    (1, "{d}-staff1", "sign", {}),
    (20, "{d}-staff1", "submit_reply", {"comment": "{reply}"}),
    (22, "{d}-head", "approve_reply", {}),
]
CLOSED: list[Step] = [*REPLIED, (24, "{d}-head", "close", {})]

CASES: list[tuple[float, str, str, str | None, str | None, str, str, str, list[Step]]] = [
    (24, "enterprise", "consult", "tax-refund", "tax", "出口退税一般多久到账",
     "我司上月申报出口退税，想了解正常审核和到账需要多长时间。",
     "正常情况下，资料齐全的出口退税申报在受理后 3 个工作日内办结，请留意电子税务局的进度提示。",
     [*CLOSED, (30, "enterprise", "rate", {"level": 5, "comment": "答复及时，很清楚。"})]),
    (20, "enterprise", "help", "power-supply", "power", "新厂房用电报装进度",
     "新厂房的高压报装已提交两周，仍未安排现场勘查，影响设备调试。",
     "", [(2, "{d}-staff1", "sign", {})]),
    (18, "enterprise", "complaint", "road-traffic", "jtj", "园区道路破损影响货车通行",
     "园区主干道多处坑洼，雨天积水，货车无法正常出入。",
     "已安排养护单位对坑洼路段进行修补，并疏通排水沟。",
     [*CLOSED, (48, "enterprise", "rate", {"level": 2, "comment": "修补后又出现坑洼。"})]),
    (3, "enterprise2", "complaint", None, None, "年检收费项目不清楚",
     "办理年检时被要求缴纳一笔检测服务费，不清楚收费依据，不知道该找哪个部门。", "", []),
    (6, "enterprise", "help", "subsidy", "czj", "技改奖补资金何时拨付",
     "去年申报的技术改造奖补已公示，想了解资金拨付时间。", "", []),
    (12, "enterprise", "complaint", "arrears", "gxj", "国有企业拖欠货款",
     "我司为某国有企业供货，货款已逾期九个月未支付。",
     "", [(1, "{d}-staff1", "sign", {}),
          (26, "{d}-staff1", "request_info", {"comment": "请提供供货合同、验收单和对账记录。"})]),
    (9, "enterprise2", "consult", "license-market", "scj", "食品经营许可变更地址",
     "门店搬迁，食品经营许可证的地址变更需要哪些材料？",
     "地址变更需重新核查经营场所，请通过一网通办提交变更申请并上传新场所平面图。", REPLIED),
    (10, "enterprise", "help", "construction-permit", "zjj", "施工许可办理卡在消防审查",
     "厂房扩建项目的施工许可迟迟未批，窗口说在等消防审查意见。",
     "", [(3, "{d}-staff1", "return",
           {"comment": "依据职责分工，消防设计审查由消防救援支队负责，请改派。"})]),
    (8, "enterprise", "suggestion", "investment", "fgj", "建议公开招商政策兑现进度",
     "建议在门户网站公开招商引资优惠政策的兑现进度，方便企业查询。",
     "", [(2, "{d}-staff1", "sign", {}),
          (30, "{d}-staff1", "request_extension",
           {"comment": "需会同投促中心梳理历年协议。", "due_date": "+25"})]),
    (23.5, "enterprise2", "consult", "tax-refund", "tax", "出口退税到账时间（重复）",
     "同一问题再问一次：出口退税多久到账？", "", []),
    (15, "enterprise", "consult", "labour", "rsj", "稳岗补贴申领条件",
     "今年的稳岗补贴申领条件和时间是什么？",
     "符合条件的企业无需申请，系统比对后直接发放，请留意社保账户。",
     [*CLOSED, (30, "zsj-staff1", "visit", {"comment": "电话回访，企业表示已收到补贴。"}),
      (40, "enterprise", "rate", {"level": 4})]),
    (1, "enterprise", "report", "environment", "sthj", "邻近工厂夜间偷排废气",
     "隔壁厂区夜间排放刺鼻气体，影响我司员工健康。", "", []),
]  # fmt: skip


def load_cases(db: Session, settings: dict[str, Any], base_time: datetime) -> int:
    """Load the catalogue and the sample cases (once); return the cases added."""
    load_catalogue(db)
    if db.scalar(select(Case.id).limit(1)) is not None:
        return 0
    users = {u.login: u for u in db.scalars(select(User))}
    clock = FrozenClock(base_time)
    policy = CasePolicy(desk_code=settings.get("qzt.complaints.desk_department", "zsj"))
    quiet: Any = _QuietMailer()
    notifier = Notifier(quiet, policy, make_translator("zh_CN"))
    service = CaseService(clock, LocalFileStorage(settings["qzt.storage_dir"]), notifier, policy)
    first_case: Case | None = None
    added = 0
    for days, login, kind, category, dept, title, text, reply, steps in CASES:
        if login not in users:
            continue
        clock._at = base_time - timedelta(days=days)
        department = db.scalar(select(Department.id).where(Department.code == dept))
        case = service.open_case(
            db, kind=kind, title=title, description=text,
            enterprise_id=users[login].enterprise_id, opened_by_user_id=users[login].id,
            department_id=department, category=category,
        )  # fmt: skip
        added += 1
        first_case = first_case or case
        opened = clock.now()
        for hours, who, name, params in steps:
            actor = users.get(who.format(d=dept))
            clock._at = opened + timedelta(hours=hours)
            service.transition(db, case, name, actor, **_fill(params, reply, clock.now))
        if "重复" in title and first_case is not None:
            clock._at = opened + timedelta(hours=2)
            desk = users.get("zsj-staff1")
            service.transition(db, case, "merge", desk, comment="重复诉求",
                               target_number=first_case.number)  # fmt: skip
    db.flush()
    return added


def _fill(params: dict[str, Any], reply: str, now: Callable[[], datetime]) -> dict[str, Any]:
    filled = dict(params)
    if filled.get("comment") == "{reply}":
        filled["comment"] = reply
    if str(filled.get("due_date", "")).startswith("+"):
        filled["due_date"] = (now() + timedelta(days=int(filled["due_date"][1:]))).date()
    return filled
