"""The admin outbox page: what was sent, what waits, what failed; a preview of each
message in a sandboxed frame; "retry now"; nobody else gets in."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal.mail.interfaces import MailAttachment
from portal.mail.models import FAILED, QUEUED, SENT, OutboxMail
from portal.mail.outbox import OutboxMailer
from portal.roles import Role
from tests import factories

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def outbox(dbsession: Session, clock: Any) -> dict[str, OutboxMail]:
    mailer = OutboxMailer(
        clock, sender="企政通 <noreply@qzt.example.gov.cn>", domain="qzt.example.gov.cn"
    )

    def make(subject: str, state: str, **kw: Any) -> OutboxMail:
        mail_id = mailer.queue(
            dbsession, to=["王强 <wang@example.gov.cn>"], subject=subject, text="正文", **kw
        )
        row = dbsession.get_one(OutboxMail, mail_id)
        row.state = state
        if state == SENT:
            row.sent_at, row.attempts = clock.now(), 1
        if state == FAILED:
            row.attempts, row.last_error = 12, "550 5.1.1 no such mailbox"
        return row

    rows = {
        "sent": make(
            "每日诉求简报",
            SENT,
            html='<p>图表：<img src="cid:chart" alt="图表"></p><script>alert(1)</script>',
            attachments=[
                MailAttachment("chart.png", "image/png", PNG, cid="chart"),
                MailAttachment("清单.csv", "text/csv", b"a,b\n"),
            ],
            kind="digest.daily",
        ),
        "waiting": make("诉求受理回执", QUEUED, kind="case.receipt"),
        "failed": make("会议邀请", FAILED, kind="meeting.invite"),
    }
    dbsession.flush()
    return rows


@pytest.fixture
def as_admin(testapp: Any, login: Any) -> Any:
    login(factories.UserFactory(roles=[Role.ADMIN]))
    return testapp


def test_the_outbox_lists_messages_by_state_and_kind(as_admin, outbox):
    page = as_admin.get("/admin/mail")
    text = page.html.get_text(" ", strip=True)
    for subject in ("每日诉求简报", "诉求受理回执", "会议邀请"):
        assert subject in text
    assert "投递方式：maildir" in text
    failed = as_admin.get("/admin/mail", {"state": "failed"})
    rows = failed.html.select("table.outbox tbody tr")
    assert [r.select_one("td:nth-of-type(4)").get_text(strip=True) for r in rows] == ["会议邀请"]
    assert "发送失败" in rows[0].get_text()
    by_kind = as_admin.get("/admin/mail", {"kind": "case.receipt", "q": "回执"})
    assert len(by_kind.html.select("table.outbox tbody tr")) == 1
    # nonsense filters are ignored, not an error
    assert (
        as_admin.get("/admin/mail", {"state": "lost", "kind": "<x>", "page": "999"}).status_int
        == 200
    )


def test_a_message_is_previewed_safely(as_admin, outbox):
    mail = outbox["sent"]
    page = as_admin.get(f"/admin/mail/{mail.id}")
    text = page.html.get_text(" ", strip=True)
    assert "王强 <wang@example.gov.cn>" in text  # the decoded To: header
    assert mail.message_id in text
    assert "清单.csv" in text
    assert "chart" in text
    frame = page.html.select_one("iframe.mail-preview")
    assert frame.has_attr("sandbox")
    html = as_admin.get(frame["src"])
    csp = html.headers["Content-Security-Policy"]
    assert "sandbox" in csp
    assert "script-src" not in csp
    assert "default-src 'none'" in csp
    assert "cid:chart" not in html.text
    assert "data:image/png;base64," in html.text
    raw = as_admin.get(f"/admin/mail/{mail.id}/raw")
    assert raw.content_type == "message/rfc822"
    assert raw.body == mail.raw
    # a text-only message has no HTML part to show
    as_admin.get(f"/admin/mail/{outbox['waiting'].id}/html", status=404)


def test_retry_now_puts_a_failed_message_back_in_the_queue(as_admin, outbox, dbsession, clock):
    failed = outbox["failed"]
    page = as_admin.get(f"/admin/mail/{failed.id}")
    [form] = [f for f in page.forms.values() if "retry" in f.fields]
    done = form.submit("retry").follow()
    assert f"邮件 {failed.id} 将在下一轮发送。" in done.html.get_text()
    dbsession.expire_all()
    row = dbsession.get_one(OutboxMail, failed.id)
    assert (row.state, row.next_attempt_at) == (QUEUED, clock.now())

    sent = outbox["sent"]
    page = as_admin.get(f"/admin/mail/{sent.id}")
    assert not [f for f in page.forms.values() if "retry" in f.fields]
    token = page.html.select_one('input[name="csrf_token"]')["value"]
    refused = as_admin.post(f"/admin/mail/{sent.id}/retry", {"csrf_token": token}).follow()
    assert "无需重试" in refused.html.get_text()
    dbsession.expire_all()
    assert dbsession.get_one(OutboxMail, sent.id).state == SENT


@pytest.mark.parametrize("role", [Role.EDITOR, Role.SUPERVISOR, Role.LEADER, Role.STAFF])
def test_only_administrators_see_the_outbox(testapp, login, outbox, role):
    login(factories.UserFactory(roles=[role]))
    mail = outbox["sent"]
    for path in (
        "/admin/mail",
        f"/admin/mail/{mail.id}",
        f"/admin/mail/{mail.id}/html",
        f"/admin/mail/{mail.id}/raw",
    ):
        testapp.get(path, status=403)


def test_unknown_messages_are_not_found(as_admin):
    as_admin.get("/admin/mail/999999", status=404)
    as_admin.get("/admin/mail/x1", status=404)
