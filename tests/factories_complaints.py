"""Factories and builders for cases (complaints)."""

from __future__ import annotations

from typing import Any

import factory
from sqlalchemy.orm import Session

from portal.clock import IClock
from portal.complaints.deadlines import parse_limit
from portal.complaints.models import Case, CaseCategory
from portal.complaints.notify import Notifier, make_translator
from portal.complaints.policy import CasePolicy
from portal.complaints.services import CaseService
from portal.content.files import LocalFileStorage
from portal.departments.models import Department
from portal.mail.outbox import OutboxMailer
from portal.roles import Role
from tests.factories import Base, DepartmentFactory, UserFactory, _register
from tests.timeline import now


@_register
class CategoryFactory(Base):
    class Meta:
        model = CaseCategory

    code = factory.Sequence(lambda n: f"cat{n}")
    name = factory.Sequence(lambda n: f"测试事项{n}")
    group = "测试"
    description = "测试用的诉求类别。"
    is_active = True
    sort_order = factory.Sequence(lambda n: n)


@_register
class CaseFactory(Base):
    """A bare case row (no steps, no mail); use ``make_service().open_case`` for a real one."""

    class Meta:
        model = Case

    kind = "consult"
    title = factory.Sequence(lambda n: f"测试诉求{n}")
    description = "测试诉求的内容。"
    state = "accepted"
    source = "web"
    received_at = factory.LazyFunction(now)
    updated_at = factory.LazyFunction(now)


# Imported lazily by another domain's test after ``bind`` ran for this test: take
# the session the registered factories already have (``bind`` keeps them current).
for _f in (CategoryFactory, CaseFactory):
    _f._meta.sqlalchemy_session = DepartmentFactory._meta.sqlalchemy_session


def staff(department: Department, *roles: Role, **kw: Any) -> Any:
    """A user of ``department`` holding ``roles`` (default: staff)."""
    return UserFactory(department=department, roles=list(roles or (Role.STAFF,)), **kw)


def make_service(
    clock: IClock, storage_dir: str, desk_code: str = "zsj", **policy: Any
) -> CaseService:
    """A real CaseService over the outbox mailer, for tests without a request."""
    limits = {k: parse_limit(v) if isinstance(v, str) else v for k, v in policy.items()}
    pol = CasePolicy(desk_code=desk_code, **limits)
    mailer = OutboxMailer(clock, sender="企政通 <noreply@example.gov.cn>", domain="example.gov.cn")
    notifier = Notifier(mailer, pol, make_translator("zh_CN"))
    return CaseService(clock, LocalFileStorage(storage_dir), notifier, pol)


class World:
    """A small city: a dispatch desk, two departments with a head and staff each, an
    enterprise user, a leader in charge of department A."""

    def __init__(self, session: Session) -> None:
        from tests.factories import LeaderFactory, enterprise_user

        self.desk = DepartmentFactory(code="zsj", name="政务服务数据管理局（测试）")
        self.a = DepartmentFactory()
        self.b = DepartmentFactory()
        self.desk_staff = staff(self.desk)
        self.a_head = staff(self.a, Role.HEAD)
        self.a_staff = staff(self.a)
        self.b_head = staff(self.b, Role.HEAD)
        self.b_staff = staff(self.b)
        self.company = enterprise_user()
        self.other_company = enterprise_user()
        self.leader = LeaderFactory(departments=[self.a])
        self.category = CategoryFactory(lead_department=self.a, assist_departments=[self.b])
        session.flush()


def signed_in(app: Any, tm: Any, dbsession: Session, user: Any) -> Any:
    """A WebTest client of its own, signed in as ``user`` through the login form."""
    from tests.conftest import web
    from tests.factories import PASSWORD

    client = web(app, tm, dbsession)
    form = client.get("/login").forms["login"]
    form["login"] = user.login
    form["password"] = PASSWORD
    form.submit("submit")
    return client
