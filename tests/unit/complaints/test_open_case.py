"""ICaseService.open_case: the contract chat and meetings rely on."""

from __future__ import annotations

import email
from email import policy as email_policy

import pytest
from sqlalchemy import select
from zope.interface.verify import verifyClass, verifyObject

from portal.complaints.interfaces import CaseError, ICaseService
from portal.complaints.models import Case, CaseState, CaseStep
from portal.complaints.services import CaseService
from portal.mail.models import OutboxMail
from tests.factories_complaints import World, make_service


@pytest.fixture
def world(dbsession):
    return World(dbsession)


@pytest.fixture
def service(clock, tmp_path):
    return make_service(clock, str(tmp_path))


def test_the_service_provides_the_interface(service):
    assert verifyClass(ICaseService, CaseService)
    assert verifyObject(ICaseService, service)


def _ack(dbsession, case):
    row = dbsession.scalar(select(OutboxMail).where(OutboxMail.dedupe_key == f"case-ack:{case.id}"))
    assert row is not None
    return email.message_from_bytes(row.raw, policy=email_policy.default)


def test_a_case_without_department_waits_at_the_dispatch_desk(dbsession, world, service, clock):
    case = service.open_case(
        dbsession,
        kind="consult",
        title="出口退税办理时限",
        description="请问出口退税一般多久可以到账？",
        enterprise_id=world.company.enterprise_id,
        opened_by_user_id=world.company.id,
        department_id=None,
    )
    assert case.state == CaseState.ACCEPTED
    assert case.department_id is None
    assert case.owner_department_id is None
    assert case.number.startswith("20260302")
    assert case.number.endswith(f"{case.id:06d}")
    assert service.find_by_number(dbsession, case.number) is case
    steps = dbsession.scalars(select(CaseStep).where(CaseStep.case_id == case.id)).all()
    assert [s.action for s in steps] == ["open"]
    message = _ack(dbsession, case)
    assert message["To"] == world.company.email
    assert case.number in str(message["Subject"])
    assert "已受理" in str(message["Subject"]) or "受理" in message.get_body().get_content()


def test_a_chosen_department_gets_it_at_once_and_owns_it(dbsession, world, service):
    case = service.open_case(
        dbsession,
        kind="complaint",
        title="窗口办事拖延",
        description="多次前往窗口仍未办结。",
        enterprise_id=world.company.enterprise_id,
        opened_by_user_id=world.company.id,
        department_id=world.b.id,
        source="chat",
        source_ref=42,
    )
    assert case.state == CaseState.DISPATCHED
    assert case.department_id == world.b.id == case.owner_department_id
    assert case.source == "chat"
    assert case.source_ref == 42
    assert case.sign_due_at is not None
    assert case.close_due_at is not None


def test_the_catalogue_routes_a_category_with_its_co_handlers(dbsession, world, service):
    case = service.open_case(
        dbsession,
        kind="help",
        title="用电报装",
        description="新厂房需要报装用电。",
        enterprise_id=None,
        opened_by_user_id=None,
        department_id=None,
        category=world.category.code,
        contact_email="boss@example.com",
        source="meeting",
    )
    assert case.department_id == world.a.id
    assert [d.id for d in case.assists] == [world.b.id]
    actions = [s.action for s in case.steps]
    assert actions == ["open", "auto_dispatch"]


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("kind", {"kind": "praise"}),
        ("title", {"title": "   "}),
        ("description", {"description": "x" * 5001}),
        ("category", {"category": "no-such"}),
        ("department", {"department_id": 999999}),
        ("contact_email", {"contact_email": "not-an-address"}),
        ("attachments", {"attachment_ids": ["0" * 32]}),
    ],
)
def test_bad_input_names_its_field_and_keeps_nothing(dbsession, world, service, field, kw):
    args = {
        "kind": "consult",
        "title": "标题",
        "description": "内容",
        "enterprise_id": world.company.enterprise_id,
        "opened_by_user_id": world.company.id,
        "department_id": None,
        **kw,
    }
    before = dbsession.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    savepoint = dbsession.begin_nested()
    with pytest.raises(CaseError) as raised:
        service.open_case(dbsession, **args)
    savepoint.rollback()
    assert raised.value.field == field
    assert dbsession.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == before
