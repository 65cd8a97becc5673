"""After a conversation: the rating over HTTP, the transcript by email, the one step
from a conversation to a complaint case."""

from __future__ import annotations

import email
from email.policy import default

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.chat.closing import job_request, mail_transcripts, transcripts_job
from portal.chat.models import CloseReason, ConvState, Side
from portal.complaints.models import Case
from portal.mail.models import OutboxMail
from portal.roles import Role
from tests import factories
from tests.factories_chat import ChatMessageFactory, ConversationFactory, staff_of


def opener_of(dbsession, conv):
    return dbsession.get(User, conv.user_id)


def body_of(row: OutboxMail) -> str:
    message = email.message_from_bytes(row.raw, policy=default)
    return message.get_body(("plain",)).get_content()


def mails(dbsession, kind="chat_transcript"):
    return dbsession.scalars(select(OutboxMail).where(OutboxMail.kind == kind)).all()


@pytest.fixture
def dept(dbsession):
    return factories.DepartmentFactory(name="江门市市场监督管理局", code="scjgj")


@pytest.fixture
def closed(dbsession, dept, clock):
    conv = ConversationFactory(department=dept, topic="食品经营许可")
    ChatMessageFactory(conversation=conv, body="食品经营许可证怎么办理？")
    ChatMessageFactory(
        conversation=conv,
        sender_id=conv.staff_id,
        sender_side=Side.STAFF.value,
        sender_name="周科长",
        body="可在网上办理，三个工作日内出证。",
    )
    conv.state = ConvState.CLOSED.value
    conv.closed_at = clock.now()
    conv.close_reason = CloseReason.STAFF.value
    dbsession.flush()
    return conv


def test_the_enterprise_rates_a_closed_conversation(testapp, login, dbsession, closed):
    login(opener_of(dbsession, closed))
    page = testapp.get(f"/chat/conversations/{closed.id}")
    form = page.forms[next(k for k, f in page.forms.items() if "rating" in f.fields)]
    labels = [s.get_text() for s in page.html.select(".rating-choice span")]
    assert labels == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    form["rating"] = "4"
    form["comment"] = "答复很及时"

    page = form.submit().follow()

    assert "感谢您的评价" in page.text
    assert (closed.rating, closed.rating_comment) == (4, "答复很及时")
    assert not page.html.select("form.rating-form")  # one rating per matter


def test_a_second_rating_and_bad_values_are_refused(testapp, login, dbsession, closed):
    login(opener_of(dbsession, closed))
    csrf = testapp.get(f"/chat/conversations/{closed.id}").html.select_one(
        "input[name=csrf_token]"
    )["value"]
    url = f"/chat/conversations/{closed.id}/rating"
    headers = {"Accept": "application/json"}

    bad = testapp.post(url, {"csrf_token": csrf, "rating": "6"}, headers=headers, status=400)
    assert bad.json == {
        "ok": False,
        "code": "invalid",
        "field": "rating",
        "message": "请在五个评价等级中选择一项。",
    }
    long = testapp.post(
        url,
        {"csrf_token": csrf, "rating": "3", "comment": "长" * 1001},
        headers=headers,
        status=400,
    )
    assert long.json["field"] == "comment"
    assert closed.rating is None

    ok = testapp.post(url, {"csrf_token": csrf, "rating": "5"}, headers=headers)
    assert ok.json["ok"] is True
    again = testapp.post(url, {"csrf_token": csrf, "rating": "1"}, headers=headers, status=400)
    assert again.json["message"] == "该对话已经评价过了。"
    assert closed.rating == 5


def test_only_the_opener_rates_and_only_once_closed(testapp, login, dbsession, closed, dept):
    colleague = factories.UserFactory(
        roles=[Role.ENTERPRISE], enterprise_id=opener_of(dbsession, closed).enterprise_id
    )
    login(colleague)
    testapp.get(f"/chat/conversations/{closed.id}")  # a colleague reads it
    testapp.post(f"/chat/conversations/{closed.id}/rating", {"rating": "1"}, status=403)

    still_open = ConversationFactory(department=dept)
    testapp.reset()
    login(opener_of(dbsession, still_open))
    testapp.post(f"/chat/conversations/{still_open.id}/rating", {"rating": "1"}, status=403)


def test_the_transcript_is_mailed_once_to_the_enterprise_user(dbsession, app, closed):
    request = job_request(app.registry)

    assert mail_transcripts(dbsession, request) == 1
    assert mail_transcripts(dbsession, request) == 0  # the job may run twice

    [row] = mails(dbsession)
    opener = opener_of(dbsession, closed)
    assert row.recipients == opener.email
    assert row.dedupe_key == f"chat-transcript:{closed.id}"
    assert row.subject.startswith("您与江门市市场监督管理局的在线咨询记录")
    text = body_of(row)
    assert f"{opener.display_name}，您好" in text
    assert "食品经营许可证怎么办理？" in text
    assert "周科长: 可在网上办理，三个工作日内出证。" in text
    assert f"/chat/conversations/{closed.id}" in text
    assert closed.transcript_sent_at is not None


def test_open_conversations_are_not_mailed(dbsession, app, dept):
    ConversationFactory(department=dept)
    assert mail_transcripts(dbsession, job_request(app.registry)) == 0
    assert mails(dbsession) == []


def test_the_job_commits_in_its_own_transaction(app, engine, settings):
    # The scheduler's entry point runs against the real database without a request.
    transcripts_job(app.registry, settings["qzt.clock"].now())


def test_staff_turn_a_conversation_into_a_complaint_case(testapp, login, dbsession, dept):
    conv = ConversationFactory(department=dept, topic="执法人员态度恶劣")
    ChatMessageFactory(conversation=conv, body="上周检查时执法人员态度很差。")
    staff = dbsession.get(User, conv.staff_id)
    login(staff)
    page = testapp.get(f"/chat/conversations/{conv.id}")
    form = next(f for f in page.forms.values() if f.action.endswith("/case"))

    page = form.submit().follow()

    case = dbsession.get(Case, conv.case_id)
    assert f"已根据本次对话生成案件 {case.number}" in page.text
    assert (case.kind, case.source, case.source_ref) == ("complaint", "chat", conv.id)
    assert case.title == "执法人员态度恶劣"
    assert "上周检查时执法人员态度很差。" in case.description
    assert case.enterprise_id == conv.enterprise_id
    assert case.requested_department_id == dept.id
    assert (conv.state, conv.close_reason) == (ConvState.CLOSED.value, CloseReason.CASE.value)
    assert len(mails(dbsession)) == 1  # the transcript went out with the close
    assert not page.html.select("form[action$='/case']")

    again = testapp.post(
        f"/chat/conversations/{conv.id}/case",
        {"csrf_token": page.html.select_one("input[name=csrf_token]")["value"]},
        headers={"Accept": "application/json"},
        status=400,
    )
    assert again.json["message"] == f"该对话已转为案件（编号 {case.id}）。"


def test_a_case_from_a_conversation_closed_in_the_console_says_why(
    testapp, login, dbsession, closed
):
    login(dbsession.get(User, closed.staff_id))
    page = testapp.get(f"/chat/conversations/{closed.id}")
    response = testapp.post(
        f"/chat/conversations/{closed.id}/case",
        {"csrf_token": page.html.select_one("input[name=csrf_token]")["value"]},
        headers={"Accept": "application/json"},
    )
    assert response.json["ok"] is True
    assert closed.close_reason == CloseReason.CASE.value
    assert dbsession.get(Case, response.json["case_id"]).number == response.json["case_number"]


def test_a_long_transcript_is_cut_to_what_a_case_holds(testapp, login, dbsession, dept):
    conv = ConversationFactory(department=dept)
    for _ in range(12):
        ChatMessageFactory(conversation=conv, body="很长的描述" * 100)
    login(dbsession.get(User, conv.staff_id))
    page = testapp.get(f"/chat/conversations/{conv.id}")
    next(f for f in page.forms.values() if f.action.endswith("/case")).submit().follow()

    case = dbsession.get(Case, conv.case_id)
    assert len(case.description) == 5000
    assert case.description.endswith(f"\n…\n完整记录见在线咨询对话 {conv.id}。")


def test_other_departments_and_enterprises_cannot_open_a_case(testapp, login, dbsession, dept):
    conv = ConversationFactory(department=dept)
    login(staff_of(factories.DepartmentFactory()))
    testapp.post(f"/chat/conversations/{conv.id}/case", status=403)
    testapp.reset()
    login(opener_of(dbsession, conv))
    testapp.post(f"/chat/conversations/{conv.id}/case", status=403)
    assert conv.case_id is None
