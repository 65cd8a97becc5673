"""Build RFC 5322 messages: multipart text + HTML, Chinese subjects and names
encoded properly, inline images and file parts. Pure: no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from portal.mail.interfaces import MailAttachment


def make_message_id(domain: str, stable: str | None = None) -> str:
    """``<…@domain>``; pass ``stable`` (e.g. the dedupe key) for a Message-ID that is
    the same however often the message is built."""
    local = uuid.uuid5(uuid.NAMESPACE_URL, stable).hex if stable else uuid.uuid4().hex
    return f"<{local}@{domain}>"


def format_address(name: str, address: str) -> str:
    """``"张三" <a@b>`` with the display name RFC 2047-encoded as needed."""
    user, _, domain = address.partition("@")
    return str(Address(display_name=name, username=user, domain=domain))


def build(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None,
    attachments: Sequence[MailAttachment],
    message_id: str,
    date: datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, charset="utf-8")
    inline = [a for a in attachments if a.cid]
    files = [a for a in attachments if not a.cid]
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
        if inline:
            html_part = msg.get_body(preferencelist=("html",))
            assert isinstance(html_part, EmailMessage)
            for item in inline:
                maintype, _, subtype = item.mime_type.partition("/")
                html_part.add_related(
                    item.data, maintype=maintype, subtype=subtype, cid=f"<{item.cid}>"
                )
    for item in files:
        maintype, _, subtype = item.mime_type.partition("/")
        if maintype == "text":
            msg.add_attachment(
                item.data.decode("utf-8"),
                subtype=subtype,
                filename=item.filename,
                params=dict(item.params),
            )
        else:
            msg.add_attachment(
                item.data,
                maintype=maintype,
                subtype=subtype,
                filename=item.filename,
                params=dict(item.params),
            )
    return msg
