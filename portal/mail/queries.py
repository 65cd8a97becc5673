"""Read side of the outbox for the admin page: listing, and a stored message taken
apart for preview (headers, text, HTML with its inline images, files)."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer

from portal.mail.models import STATES, OutboxMail
from portal.paging import Page, clamp


@dataclass
class OutboxFilter:
    state: str | None = None
    kind: str | None = None
    q: str = ""

    @classmethod
    def parse(cls, params: Any) -> OutboxFilter:
        state = params.get("state", "")
        kind = params.get("kind", "")
        return cls(
            state=state if state in STATES else None,
            kind=kind[:40] if kind and re.fullmatch(r"[\w.:-]+", kind) else None,
            q=params.get("q", "").strip()[:100],
        )

    def as_query(self) -> dict[str, str]:
        found = {"state": self.state or "", "kind": self.kind or "", "q": self.q}
        return {k: v for k, v in found.items() if v}


def listing(db: Session, flt: OutboxFilter, number: int, size: int) -> Page:
    stmt = select(OutboxMail).options(defer(OutboxMail.raw))
    if flt.state:
        stmt = stmt.where(OutboxMail.state == flt.state)
    if flt.kind:
        stmt = stmt.where(OutboxMail.kind == flt.kind)
    if flt.q:
        like = "%" + flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                OutboxMail.recipients.ilike(like, escape="\\"),
                OutboxMail.subject.ilike(like, escape="\\"),
            )
        )
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    number = clamp(number, total, size)
    items = db.scalars(
        stmt.order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
        .offset((number - 1) * size)
        .limit(size)
    ).all()
    return Page(list(items), number, size, total)


def kinds(db: Session) -> list[str]:
    return list(db.scalars(select(OutboxMail.kind).distinct().order_by(OutboxMail.kind)))


@dataclass
class FilePart:
    filename: str
    mime_type: str
    size: int


@dataclass
class Preview:
    headers: list[tuple[str, str]]
    text: str
    html: str | None
    files: list[FilePart] = field(default_factory=list)
    inline: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def html_with_data_images(self) -> str | None:
        """The HTML part with ``cid:`` images turned into ``data:`` URIs, so the
        sandboxed preview frame needs nothing else from the server."""
        if self.html is None:
            return None

        def swap(match: re.Match[str]) -> str:
            found = self.inline.get(match.group(1))
            if found is None:
                return match.group(0)
            mime, data = found
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

        return re.sub(r"cid:([^\"'\s>]+)", swap, self.html)


SHOWN_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def preview(raw: bytes) -> Preview:
    msg = parse(raw)
    headers = [(name, str(msg[name])) for name in SHOWN_HEADERS if msg[name] is not None]
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    result = Preview(
        headers=headers,
        text=text_part.get_content() if isinstance(text_part, EmailMessage) else "",
        html=html_part.get_content() if isinstance(html_part, EmailMessage) else None,
    )
    for part in msg.walk():
        if part.is_multipart() or part in (text_part, html_part):
            continue
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        cid = part["Content-ID"]
        if cid and part.get_content_maintype() == "image":
            result.inline[str(cid).strip("<>")] = (part.get_content_type(), data)
        else:
            result.files.append(
                FilePart(part.get_filename() or "", part.get_content_type(), len(data))
            )
    return result
