"""What the index knows of a content item: the pure mapping to ``search.Document``."""

from __future__ import annotations

import html
import re

import nh3

from portal.content.models import ContentItem, State, Validity
from search.interfaces import EVERYONE, Document

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLOCKS = re.compile(r"</(?:p|div|h\d|li|tr|blockquote|pre)>|<br\s*/?>", re.IGNORECASE)

#: validity values that mean "do not rely on this document any more"
SUPERSEDED = frozenset({Validity.AMENDED.value, Validity.REPEALED.value, Validity.EXPIRED.value})


def document_id(content_id: int) -> str:
    return f"content:{content_id}"


def plain_text(body_html: str) -> str:
    """Text of sanitised HTML: tags dropped, entities decoded, paragraphs kept."""
    marked = _BLOCKS.sub("\n", body_html or "")
    text = html.unescape(nh3.clean(marked, tags=set()))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines() if line.strip())


def is_searchable(item: ContentItem) -> bool:
    """Only published items are in the public index."""
    return item.state == State.PUBLISHED.value


def to_document(item: ContentItem) -> Document:
    when = item.publish_date or (item.published_at.date() if item.published_at else None)
    return Document(
        id=document_id(item.id),
        title=item.title,
        url=f"/content/{item.id}",
        body=plain_text(item.body),
        summary=item.summary or "",
        doc_number=item.doc_number or "",
        issuer=item.issuer or "",
        section=item.section,
        department=item.department.name if item.department else "",
        industries=tuple(item.industries),
        status=item.validity or "",
        superseded=item.validity in SUPERSEDED or item.replaced_by_id is not None,
        date=when,
        allowed=(EVERYONE,),
    )
