"""Chat pages over HTTP: who reaches which page, and what each shows."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.chat.models import Side
from portal.roles import Role
from portal.sessions import WebSession
from realtime.tokens import verify
from tests import factories
from tests.factories_chat import ChatMessageFactory, ConversationFactory, staff_of


def chat_config(page):
    return json.loads(page.html.select_one("#chat-config").string)


@pytest.fixture
def dept(dbsession):
    return factories.DepartmentFactory(name="江门市科学技术局", code="kjj")


@pytest.fixture
def conv(dbsession, dept):
    conv = ConversationFactory(department=dept, topic="高新技术企业认定")
    ChatMessageFactory(conversation=conv, body="请问需要哪些材料？")
    ChatMessageFactory(
        conversation=conv,
        sender_id=conv.staff_id,
        sender_side=Side.STAFF.value,
        sender_name="李科长",
        body="请准备营业执照和财务报表。",
    )
    return conv


def test_an_enterprise_user_opens_the_chat_with_a_department(testapp, login, dept):
    user = factories.enterprise_user()
    login(user)

    page = testapp.get("/chat/with/kjj")

    assert page.html.select_one("h1").get_text() == "江门市科学技术局"
    config = chat_config(page)
    assert config["department"] == dept.id
    assert config["tokenUrl"] == "/realtime/token"
    assert config["text"]["dept_offline"].startswith("该部门")  # the script's words, in Chinese
    form = next(f for f in page.forms.values() if f.action == "/chat/with/kjj/message")
    assert form["email"].value == user.email


def test_anonymous_visitors_are_sent_to_log_in_and_staff_cannot_start_a_chat(testapp, login, dept):
    assert "/login" in testapp.get("/chat/with/kjj", status=303).location
    login(staff_of(dept))
    testapp.get("/chat/with/kjj", status=403)
    testapp.get("/chat/with/no-such-dept", status=404)


def test_the_transcript_page_shows_the_messages_to_the_enterprise(testapp, login, conv):
    login(_opener(conv))

    page = testapp.get(f"/chat/conversations/{conv.id}")

    texts = [p.get_text() for p in page.html.select(".msg-text")]
    assert texts == ["请问需要哪些材料？", "请准备营业执照和财务报表。"]
    assert page.html.select_one(".msg-mine .msg-text").get_text() == "请问需要哪些材料？"
    assert not page.html.select("form.rating-form")  # still open: nothing to rate yet


def _opener(conv):
    return factories.UserFactory._meta.sqlalchemy_session.get(User, conv.user_id)


def test_another_enterprise_cannot_read_it(testapp, login, conv):
    login(factories.enterprise_user())
    testapp.get(f"/chat/conversations/{conv.id}", status=403)
    testapp.get("/chat/conversations/99999999", status=404)


def test_oversight_reads_but_only_its_departments(testapp, login, conv, dept):
    leader_user = factories.UserFactory(roles=[Role.LEADER])
    leader = factories.LeaderFactory(user_id=leader_user.id)
    leader.departments = [dept]
    other_user = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=other_user.id).departments = [factories.DepartmentFactory()]

    login(leader_user)
    page = testapp.get(f"/chat/conversations/{conv.id}")
    assert page.html.select_one(".state-banner")  # read-only banner
    assert not page.html.select("form[action$='/case']")
    listing = testapp.get("/chat/oversight")
    assert [a.get_text() for a in listing.html.select(".chat-table td a")] == ["高新技术企业认定"]

    testapp.reset()
    login(other_user)
    testapp.get(f"/chat/conversations/{conv.id}", status=403)
    assert testapp.get("/chat/oversight").html.select(".chat-table") == []


def test_supervisors_see_every_department(testapp, login, conv):
    login(factories.UserFactory(roles=[Role.SUPERVISOR]))
    listing = testapp.get("/chat/oversight")
    assert "高新技术企业认定" in listing.text
    testapp.get(f"/chat/conversations/{conv.id}")


def test_a_supervisor_of_one_department_and_the_mayor(testapp, login, conv, dept):
    # The city's one oversight rule, as for cases and recordings.
    login(factories.UserFactory(roles=[Role.SUPERVISOR], department=factories.DepartmentFactory()))
    testapp.get(f"/chat/conversations/{conv.id}", status=403)
    assert "高新技术企业认定" not in testapp.get("/chat/oversight").text

    testapp.reset()
    login(factories.UserFactory(roles=[Role.SUPERVISOR], department=dept))
    testapp.get(f"/chat/conversations/{conv.id}")

    testapp.reset()
    mayor = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=mayor.id, is_mayor=True)
    login(mayor)
    testapp.get(f"/chat/conversations/{conv.id}")
    assert "高新技术企业认定" in testapp.get("/chat/oversight").text


def test_the_departments_staff_may_turn_it_into_a_case(testapp, login, conv, dept):
    login(staff_of(dept))
    page = testapp.get(f"/chat/conversations/{conv.id}")
    assert page.html.select("form[action$='/case']")


def test_the_console_lists_colleagues_departments_and_canned_replies(testapp, login, dept):
    from tests.factories_chat import CannedReplyFactory

    me = staff_of(dept, display_name="黄志明")
    staff_of(dept, display_name="陈丽娟")
    CannedReplyFactory(department=dept, title="问候", body="您好，请问有什么可以帮您？")
    login(me)

    page = testapp.get("/chat/console")

    config = chat_config(page)
    assert config["department"] == dept.id
    assert config["me"] == me.id
    colleagues = [o.get_text() for o in page.html.select("#transfer-staff option")]
    assert colleagues == ["—", "陈丽娟"]
    assert dept.name not in [o.get_text() for o in page.html.select("#transfer-dept option")]
    assert page.html.select_one("#canned-select option[data-body]")["data-body"].startswith("您好")


def test_enterprises_cannot_open_the_console(testapp, login):
    login(factories.enterprise_user())
    testapp.get("/chat/console", status=403)


def test_my_conversations_lists_the_enterprises_chats_with_unread_counts(testapp, login, conv):
    conv.enterprise_read_seq = 1  # seen its own question, not the staff's answer
    login(_opener(conv))
    page = testapp.get("/chat")
    assert "高新技术企业认定" in page.text
    assert page.html.select_one(".unread-badge").get_text() == "1"


def test_details_names_only_readable_conversations(testapp, login, conv, dept):
    other = ConversationFactory(topic="别的部门")
    login(staff_of(dept))
    data = testapp.get(f"/chat/details.json?id={conv.id}&id={other.id}&id=x").json
    assert list(data["conversations"]) == [str(conv.id)]
    assert data["conversations"][str(conv.id)]["topic"] == "高新技术企业认定"


# -- the realtime token ------------------------------------------------------------------
def test_an_anonymous_visitor_gets_a_watch_only_token_and_no_session(testapp, settings, clock):
    response = testapp.get("/realtime/token")

    claims = verify(
        settings["qzt.realtime.secret"], response.json["token"], now=clock.now().timestamp()
    )
    assert claims.user_id is None
    assert response.json["url"] == settings["qzt.realtime.public_url"]
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers


def test_staff_tokens_name_their_department_and_expire(
    testapp, login, settings, clock, dept, dbsession
):
    staff = staff_of(dept)
    login(staff)

    token = testapp.get("/realtime/token").json["token"]

    secret, now = settings["qzt.realtime.secret"], clock.now().timestamp()
    claims = verify(secret, token, now=now)
    assert (claims.user_id, claims.departments, claims.roles) == (staff.id, (dept.id,), ("staff",))
    # the session it came from, so that signing out closes the connection
    [row] = dbsession.scalars(select(WebSession).where(WebSession.user_id == staff.id))
    assert claims.extra["sid"] == row.id
    from realtime.tokens import TokenError

    with pytest.raises(TokenError, match="expired"):
        verify(
            settings["qzt.realtime.secret"], token, now=now + settings["qzt.realtime.token_ttl"] + 1
        )
    watch = testapp.get("/realtime/token?watch=1").json["token"]
    assert verify(settings["qzt.realtime.secret"], watch, now=now).user_id is None


def test_leader_and_supervisor_tokens_carry_what_they_oversee(
    testapp, login, settings, clock, dept
):
    leader_user = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=leader_user.id).departments = [dept]
    login(leader_user)
    now = clock.now().timestamp()
    secret = settings["qzt.realtime.secret"]
    claims = verify(secret, testapp.get("/realtime/token").json["token"], now=now)
    assert claims.extra["oversees"] == [dept.id]
    assert claims.departments == ()

    testapp.reset()
    login(factories.UserFactory(roles=[Role.SUPERVISOR]))
    claims = verify(secret, testapp.get("/realtime/token").json["token"], now=now)
    assert claims.extra["oversees"] == "all"


def test_enterprise_tokens_name_the_enterprise(testapp, login, settings, clock):
    user = factories.enterprise_user()
    login(user)
    token = testapp.get("/realtime/token").json["token"]
    claims = verify(settings["qzt.realtime.secret"], token, now=clock.now().timestamp())
    assert (claims.enterprise_id, claims.roles, claims.name) == (
        user.enterprise_id,
        ("enterprise",),
        user.display_name,
    )


def test_the_csp_lets_scripts_connect_only_to_the_realtime_server(testapp, settings):
    csp = testapp.get("/").headers["Content-Security-Policy"]
    connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src"))
    assert connect.split() == ["connect-src", "'self'", "ws://127.0.0.1:6544"]
    assert settings["qzt.realtime.public_url"].startswith("ws://127.0.0.1:6544/")


def test_the_home_sidebar_is_wired_for_live_presence_and_stays_cacheable(testapp, dept):
    page = testapp.get("/")

    assert "Set-Cookie" not in page.headers  # no session for the presence script's sake
    listing = page.html.select_one("[data-presence]")
    assert listing["data-token-url"] == "/realtime/token?watch=1"
    assert (listing["data-label-online"], listing["data-label-offline"]) == ("在线", "离线")
    item = listing.select_one(f"li[data-dept='{dept.code}']")
    assert item["data-dept-id"] == str(dept.id)
    assert item["data-chat-href"] == f"/chat/with/{dept.code}"
    assert page.html.select_one("script[src*='chat/presence.js']")["type"] == "module"
