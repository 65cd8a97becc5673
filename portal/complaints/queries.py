"""Which cases a user may list, searched, filtered and paged.

The rows are those of the user's :class:`~portal.complaints.scope.CaseScope`, the
same rule the case page's ACL asks, so a list never shows a case its page refuses.
The search box takes words (at most :data:`MAX_TERMS`, :data:`SEARCH_MAX`
characters in all); a case matches when every word is in its number, subject,
description or enterprise's name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal import paging
from portal.accounts.models import Enterprise
from portal.complaints.models import Case, CaseState, parse_number
from portal.complaints.scope import CaseScope
from portal.paging import Page

#: the search box's length; anything longer is cut and the user told
SEARCH_MAX = 100
#: words of a search; more are left out
MAX_TERMS = 8


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    kind: str | None = None
    department_id: int | None = None
    q: str = ""
    overdue: bool = False

    def as_query(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in ("state", "kind", "department_id"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        if self.q:
            found["q"] = self.q
        if self.overdue:
            found["overdue"] = "1"
        return found


def clean_search(raw: str) -> tuple[str, bool]:
    """The search text as the list uses it, and whether it had to be shortened.

    Control, format and surrogate characters become spaces: a NUL is refused by
    PostgreSQL in any text parameter and a lone surrogate cannot be encoded, so
    either would otherwise turn a search into a server error; none of them can be
    part of what a case says."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in raw)
    text = " ".join(text.split())
    return text[:SEARCH_MAX].strip(), len(text) > SEARCH_MAX


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(term: str) -> ColumnElement[bool]:
    ident = parse_number(term)
    if ident is not None:
        # A case number finds its case by the primary key: matched in the texts as
        # well, it would cost a scan of every description for nothing.
        return Case.id == ident
    pattern = _like(term)
    named = select(Enterprise.id).where(Enterprise.name.ilike(pattern, escape="\\"))
    return or_(
        Case.title.ilike(pattern, escape="\\"),
        Case.description.ilike(pattern, escape="\\"),
        Case.enterprise_id.in_(named),
    )


def search(q: str) -> ColumnElement[bool] | None:
    """Every word of ``q`` in the case's number, subject, description or enterprise."""
    terms = q.split()[:MAX_TERMS]
    return and_(*(_matches(t) for t in terms)) if terms else None


def listing(
    db: Session,
    scope: CaseScope,
    flt: CaseFilter,
    number: int,
    size: int,
    now: datetime,
) -> Page:
    query = select(Case).where(scope.where())
    if flt.state:
        query = query.where(Case.state == flt.state)
    if flt.kind:
        query = query.where(Case.kind == flt.kind)
    if flt.department_id is not None:
        query = query.where(Case.department_id == flt.department_id)
    if flt.overdue:
        query = query.where(
            Case.closed_at.is_(None), Case.state != CaseState.MERGED, Case.close_due_at < now
        )
    matched = search(flt.q)
    if matched is not None:
        query = query.where(matched)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    number = paging.clamp(number, total, size)
    items = db.scalars(
        query.options(selectinload(Case.department), selectinload(Case.category))
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(size)
        .offset((number - 1) * size)
    ).all()
    return Page(list(items), number, size, total)
