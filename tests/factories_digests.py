"""Cases as rows with chosen times (the digests read times, not the workflow), and a
small city of supervised departments, leaders and a mayor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import factory
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.complaints.models import (
    Case,
    CaseExtension,
    CaseRating,
    CaseRectification,
    CaseReturn,
    CaseState,
)
from portal.digests.models import LeaderDeputy
from portal.roles import Role
from tests.factories import Base, DepartmentFactory, LeaderFactory, UserFactory, _register
from tests.timeline import now


@_register
class CaseFactory(Base):
    class Meta:
        model = Case

    kind = "complaint"
    title = factory.Sequence(lambda n: f"企业反映事项{n}")
    description = "企业反映审批时限过长，希望尽快办理。"
    state = CaseState.HANDLING.value
    source = "web"
    received_at = factory.LazyFunction(lambda: now() - timedelta(hours=3))
    updated_at = factory.LazyAttribute(lambda o: o.received_at)
    close_due_at = factory.LazyAttribute(lambda o: o.received_at + timedelta(days=15))
    return_count = 0
    extension_count = 0
    supervised = False


def rating(case: Case, level: int, at: datetime, comment: str = "", round: int = 1) -> CaseRating:
    return CaseRating(
        case_id=case.id, round=round, level=level, comment=comment,
        department_id=case.department_id, rated_at=at,
    )  # fmt: skip


def returned(case: Case, at: datetime, reason: str = "不属于本部门职责") -> CaseReturn:
    return CaseReturn(
        case_id=case.id, department_id=case.department_id, reason=reason, requested_at=at
    )


def extension(case: Case, at: datetime, days: int = 5, reason: str = "需现场核查") -> CaseExtension:
    due = case.close_due_at or at
    return CaseExtension(
        case_id=case.id, department_id=case.department_id, reason=reason, previous_due_at=due,
        requested_due_at=due + timedelta(days=days), requested_at=at,
    )  # fmt: skip


def rectification(case: Case, rated: CaseRating, opened: datetime, due: datetime) -> Any:
    return CaseRectification(
        case_id=case.id, rating_id=rated.id, department_id=case.department_id, opened_at=opened,
        due_at=due,
    )  # fmt: skip


class City:
    """Three departments: 王副市长 supervises A and B (his secretary gets copies), 李副市长
    supervises C; 张市长 is the mayor. Each leader has a login."""

    def __init__(self, session: Session) -> None:
        self.a = DepartmentFactory(name="市市场监督管理局（测试）", short_name="市场监管")
        self.b = DepartmentFactory(name="市人力资源和社会保障局（测试）", short_name="人社")
        self.c = DepartmentFactory(name="市住房和城乡建设局（测试）", short_name="住建")
        self.wang_user = UserFactory(login="wang.vice", roles=[Role.LEADER], display_name="王强")
        self.li_user = UserFactory(login="li.vice", roles=[Role.LEADER], display_name="李敏")
        self.mayor_user = UserFactory(login="zhang.mayor", roles=[Role.LEADER], display_name="张华")
        self.wang = LeaderFactory(
            name="王强", title="副市长", email="wang@example.gov.cn", departments=[self.a, self.b],
            user_id=self.wang_user.id,
        )  # fmt: skip
        self.li = LeaderFactory(
            name="李敏", title="副市长", email="li@example.gov.cn", departments=[self.c],
            user_id=self.li_user.id,
        )  # fmt: skip
        self.mayor = LeaderFactory(
            name="张华", title="市长", is_mayor=True, email="mayor@example.gov.cn",
            user_id=self.mayor_user.id,
        )  # fmt: skip
        session.add(
            LeaderDeputy(
                leader_id=self.wang.id, name="陈秘书", email="chen.sec@example.gov.cn",
                updated_at=now(),
            )
        )  # fmt: skip
        session.flush()


@contextmanager
def committed_city(engine: Engine) -> Iterator[City]:
    """The city and one new case, committed (other connections and processes see
    them); everything it made, and every digest and digest mail, removed after."""
    from portal.accounts.models import User, UserRole
    from portal.db import make_session_factory
    from portal.departments.models import Department, Leader
    from portal.digests.models import DigestRun
    from portal.mail.models import OutboxMail
    from tests import factories

    session = make_session_factory(engine)()
    factories.bind(session)
    ids: dict[str, list[int]] = {}
    try:
        city = City(session)
        case = CaseFactory(
            department_id=city.a.id, title="园区断电", received_at=now() - timedelta(hours=12)
        )
        session.commit()
        ids = {
            "departments": [city.a.id, city.b.id, city.c.id],
            "leaders": [city.wang.id, city.li.id, city.mayor.id],
            "users": [city.wang_user.id, city.li_user.id, city.mayor_user.id],
            "cases": [case.id],
        }
        yield city
    finally:
        session.close()
        with engine.begin() as conn:
            conn.execute(delete(OutboxMail).where(OutboxMail.kind.like("digest.%")))
            conn.execute(delete(DigestRun))
            if ids:
                conn.execute(delete(LeaderDeputy).where(LeaderDeputy.leader_id.in_(ids["leaders"])))
                conn.execute(delete(Case).where(Case.id.in_(ids["cases"])))
                conn.execute(delete(Leader).where(Leader.id.in_(ids["leaders"])))
                conn.execute(delete(Department).where(Department.id.in_(ids["departments"])))
                conn.execute(delete(UserRole).where(UserRole.user_id.in_(ids["users"])))
                conn.execute(delete(User).where(User.id.in_(ids["users"])))
