"""The meeting room's pages as the participants, outsiders and supervisors see them:
the meeting page and its session, invitations, minutes with a case opened from
them, and recordings played back under the audit log."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.complaints.models import Case
from portal.mail.models import OutboxMail
from portal.meetings import attendance
from portal.meetings.minutes import Minutes
from portal.meetings.recording import RecordingAccess, file_path, recording_dir
from portal.meetings.room_text import PAGE
from realtime import tokens
from tests import factories_meetings
from tests.factories_room import meeting, recording, supervisor
from tests.timeline import now


@pytest.fixture(autouse=True)
def _bind(dbsession: Any) -> None:
    factories_meetings.bind(dbsession)


def room_url(m: Any, tail: str = "room") -> str:
    return f"/meetings/bookings/{m.id}/{tail}"


def config_of(page: Any) -> dict[str, Any]:
    found = page.html.find("script", id="room-config")
    return json.loads(found.string)


# -- the meeting page ----------------------------------------------------------------
def test_both_parties_open_the_meeting_page_at_the_booked_time(testapp, login):
    m = meeting()
    login(m.head)
    page = testapp.get(room_url(m))
    config = config_of(page)
    assert config["meeting"] == m.id
    assert config["host"] is True
    assert config["session"] == room_url(m, "room/session")
    texts = json.loads(page.html.find("script", id="room-text").string)
    assert set(texts) == set(PAGE)
    assert texts["lobby"].startswith("您已进入等候室")
    assert page.html.select_one("[data-record]") is not None  # the head may ask to record
    assert page.html.select_one("[data-lobby-list]") is not None
    assert "static/meetings/room.js" in page.text

    testapp.reset()
    login(m.requester)
    page = testapp.get(room_url(m))
    assert config_of(page)["host"] is False
    assert page.html.select_one("[data-record]") is None


def test_the_session_gives_a_token_for_the_realtime_server_and_ice_servers(testapp, login, app):
    m = meeting()
    settings = app.registry.settings
    settings.update(
        {
            "qzt.meetings.stun_urls": ["stun:turn.example.gov.cn:3478"],
            "qzt.meetings.turn_urls": ["turn:turn.example.gov.cn:3478?transport=udp"],
            "qzt.meetings.turn_secret": "coturn-secret",
        }
    )
    try:
        login(m.requester)
        answer = testapp.get(room_url(m, "room/session")).json
    finally:
        settings.update({"qzt.meetings.turn_urls": [], "qzt.meetings.stun_urls": []})
        settings["qzt.meetings.turn_secret"] = ""
    claims = tokens.verify(settings["qzt.realtime.secret"], answer["token"], now=now().timestamp())
    assert claims.user_id == m.requester.id
    assert claims.extra == {"meeting": m.id}
    assert answer["url"] == settings["qzt.realtime.public_url"]
    stun, turn = answer["ice_servers"]
    assert stun == {"urls": ["stun:turn.example.gov.cn:3478"]}
    expiry, user = turn["username"].split(":")
    assert user == f"u{m.requester.id}"
    assert int(expiry) > now().timestamp()
    assert len(turn["credential"]) == 28  # base64 of an HMAC-SHA1


def test_an_outsider_is_told_in_chinese_and_nothing_is_served(testapp, login, caplog):
    caplog.set_level("INFO", logger="portal.meetings.room")
    m = meeting()
    stranger = factories_meetings.enterprise_user()
    colleague = factories_meetings.enterprise_user(enterprise=m.requester.enterprise)
    for user in (stranger, colleague):
        testapp.reset()
        login(user)
        page = testapp.get(room_url(m), status=403)
        assert "您未受邀参加此次会议，无法进入。" in page.text
        assert m.booking.topic not in page.text  # not even what the meeting is about
        assert page.html.find("script", id="room-config") is None
        session = testapp.get(room_url(m, "room/session"), status=403).json
        assert session["error"] == "not_invited"
        assert "token" not in session
    assert "refused to user" in caplog.text


def test_too_early_says_when_the_room_opens(testapp, login):
    m = meeting(start=now() + timedelta(hours=2))
    login(m.requester)
    page = testapp.get(room_url(m), status=403)
    assert "会议室将于 2026-03-02 11:20 开放" in page.text
    assert testapp.get(room_url(m, "room/session"), status=403).json["error"] == "too_early"


def test_a_cancelled_meeting_and_a_past_one_are_closed(testapp, login, dbsession):
    m = meeting()
    m.booking.state = "cancelled"
    login(m.head)
    assert "此次会议已取消或已被婉拒。" in testapp.get(room_url(m), status=403).text
    past = meeting(start=now() - timedelta(hours=3), department=m.head.department)
    testapp.reset()
    login(past.head)
    assert "此次会议已结束。" in testapp.get(room_url(past), status=403).text


def test_a_visitor_is_sent_to_log_in_and_an_unknown_meeting_is_a_404(testapp, login):
    m = meeting()
    page = testapp.get(room_url(m), status=303)
    assert "/login" in page.location
    login(m.head)
    testapp.get("/meetings/bookings/999999/room", status=404)
    testapp.get("/meetings/bookings/abc/room", status=404)


# -- invitations ------------------------------------------------------------------------
def test_the_head_invites_a_colleague_who_can_then_open_the_page(testapp, login, dbsession):
    m = meeting()
    staff = factories_meetings.staff(m.head.department, display_name="王科长")
    login(m.head)
    page = testapp.get(room_url(m, "room/invite"))
    form = page.forms["invite"]
    form["login"] = staff.login
    page = form.submit("invite").follow()
    assert "已邀请" in page.text
    assert "王科长" in page.text

    form = page.forms["invite"]
    form["login"] = m.requester.login
    page = form.submit("invite")
    assert "已可参加此次会议" in page.text  # shown next to the field, nothing saved twice
    assert len(attendance.invites(dbsession, m.booking)) == 1

    testapp.reset()
    login(staff)
    assert config_of(testapp.get(room_url(m)))["host"] is True
    testapp.get(room_url(m, "room/invite"), status=403)  # invitees do not invite further


# -- minutes ----------------------------------------------------------------------------
def test_the_head_writes_minutes_the_enterprise_reads_them_and_is_told(testapp, login, dbsession):
    m = meeting()
    m.requester.email = "li@example.com"
    login(m.requester)
    page = testapp.get(room_url(m, "minutes"))
    assert "部门负责人尚未撰写纪要。" in page.text
    assert not page.html.select('a[href$="/minutes/edit"]')
    testapp.get(room_url(m, "minutes/edit"), status=403)

    testapp.reset()
    login(m.head)
    form = testapp.get(room_url(m, "minutes/edit")).forms["minutes"]
    form["body"] = "一、企业反映用地指标紧张。\n二、商务局两周内答复。"
    page = form.submit("save").follow()
    assert "企业反映用地指标紧张" in page.text

    testapp.reset()
    login(m.requester)
    page = testapp.get(room_url(m, "minutes"))
    assert [p.text for p in page.html.select("[data-minutes] p")] == [
        "一、企业反映用地指标紧张。",
        "二、商务局两周内答复。",
    ]
    mail = dbsession.scalars(select(OutboxMail).where(OutboxMail.kind == "meetings.minutes")).one()
    assert mail.recipients == "li@example.com"
    assert "会谈纪要" in mail.subject


def test_minutes_before_the_meeting_or_empty_are_refused(testapp, login):
    m = meeting(start=now() + timedelta(minutes=5))
    login(m.head)
    form = testapp.get(room_url(m, "minutes/edit")).forms["minutes"]
    form["body"] = "提前写好的纪要"
    page = form.submit("save")
    assert "会议开始后才能撰写纪要。" in page.text
    started = meeting(start=now() - timedelta(minutes=5), department=m.head.department)
    testapp.reset()
    login(started.head)
    form = testapp.get(room_url(started, "minutes/edit")).forms["minutes"]
    form["body"] = "   "
    assert "纪要内容不能为空。" in form.submit("save").text
    assert testapp.get(room_url(started, "minutes")).html.select("[data-minutes]") == []


def test_the_head_opens_a_complaint_case_from_the_minutes_once(testapp, login, dbsession):
    m = meeting()
    login(m.head)
    page = testapp.get(room_url(m, "minutes/case"))
    page = page.forms["minutes-case"].submit("open")
    assert "请先撰写纪要，再据此立案。" in page.text

    form = testapp.get(room_url(m, "minutes/edit")).forms["minutes"]
    form["body"] = "企业投诉某审批窗口多次要求重复提交材料。"
    form.submit("save")
    form = testapp.get(room_url(m, "minutes/case")).forms["minutes-case"]
    assert form["title"].value == m.booking.topic
    form["kind"] = "complaint"
    page = form.submit("open").follow()
    minutes = dbsession.scalars(select(Minutes).where(Minutes.booking_id == m.id)).one()
    case = dbsession.get(Case, minutes.case_id)
    assert case.source == "meeting"
    assert case.source_ref == m.id
    assert case.enterprise_id == m.booking.enterprise_id
    assert minutes.case_number in page.text
    assert not page.html.select('a[href$="/minutes/case"]')  # no second case from them
    page = testapp.get(room_url(m, "minutes/case")).forms["minutes-case"].submit("open")
    assert "已根据此纪要立案" in page.text


# -- recordings ---------------------------------------------------------------------------
def _file_on_disk(settings: dict[str, Any], file_id: str, data: bytes) -> str:
    path = file_path(recording_dir(settings), file_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def test_a_supervisor_of_the_scope_plays_a_recording_and_it_is_logged(
    testapp, login, dbsession, app
):
    m = meeting()
    run = recording(dbsession, m.booking, now())
    (f,) = run.files
    data = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 40
    path = _file_on_disk(app.registry.settings, f.id, data)
    try:
        login(supervisor(department=m.head.department))
        listing = testapp.get("/meetings/recordings")
        assert m.booking.topic in listing.text
        page = testapp.get(f"/meetings/recordings/{run.id}")
        src = page.html.select_one("video")["src"]
        assert src == f"/meetings/recordings/{run.id}/files/{f.id}"
        whole = testapp.get(src)
        assert whole.body == data
        assert whole.content_type == "video/webm"
        assert "no-store" in whole.headers["Cache-Control"]
        part = testapp.get(src, headers={"Range": "bytes=100-199"}, status=206)
        assert part.body == data[100:200]
        actions = [a.action for a in dbsession.scalars(select(RecordingAccess))]
        assert actions == ["view", "play"]  # the range request of a playing video is not a new play
    finally:
        os.remove(path)


@pytest.mark.parametrize("who", ["other_supervisor", "head", "requester", "admin"])
def test_nobody_outside_the_scope_plays_a_recording(testapp, login, dbsession, who):
    from portal.roles import Role
    from tests import factories

    m = meeting()
    run = recording(dbsession, m.booking, now())
    users = {
        "other_supervisor": lambda: supervisor(department=factories.DepartmentFactory()),
        "head": lambda: m.head,
        "requester": lambda: m.requester,
        "admin": lambda: factories.UserFactory(roles=[Role.ADMIN]),
    }
    user = users[who]()
    login(user)
    testapp.get(f"/meetings/recordings/{run.id}", status=403)
    testapp.get(f"/meetings/recordings/{run.id}/files/{run.files[0].id}", status=403)
    if who == "other_supervisor":
        assert m.booking.topic not in testapp.get("/meetings/recordings").text
    else:
        testapp.get("/meetings/recordings", status=403)
    assert dbsession.scalars(select(RecordingAccess)).all() == []


def test_a_purged_recording_is_gone(testapp, login, dbsession):
    m = meeting()
    run = recording(dbsession, m.booking, now())
    run.state, run.purged_at = "purged", now()
    login(supervisor())
    listing = testapp.get("/meetings/recordings")
    assert "已删除（保存期限届满）" in listing.text
    page = testapp.get(f"/meetings/recordings/{run.id}")
    assert "保存期限届满，录像文件已删除。" in page.text
    assert not page.html.select("video")
    testapp.get(f"/meetings/recordings/{run.id}/files/{run.files[0].id}", status=410)
    testapp.get(f"/meetings/recordings/{run.id}/files/{'f' * 32}", status=410)


def test_a_file_id_of_another_recording_is_not_served(testapp, login, dbsession):
    m = meeting()
    mine, other = recording(dbsession, m.booking, now()), recording(dbsession, m.booking, now())
    login(supervisor())
    testapp.get(f"/meetings/recordings/{mine.id}/files/{other.files[0].id}", status=404)
    testapp.get(f"/meetings/recordings/{mine.id}/files/..%2F..%2Fetc", status=404)
