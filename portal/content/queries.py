"""Read side of content: what listings, the home page and item pages show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, extract, func, or_, select
from sqlalchemy.orm import Session

from portal import paging
from portal.content.models import ContentIndustry, ContentItem, State


@dataclass
class ListingFilter:
    department_id: int | None = None
    year: int | None = None
    industry: str | None = None
    validity: str | None = None
    q: str = ""

    def as_query(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class Page(paging.Page):
    """A listing page, with the years that have items (for the year filter)."""

    years: list[int] = field(default_factory=list)


def _published(section: str) -> Select[ContentItem]:
    return select(ContentItem).where(
        ContentItem.section == section, ContentItem.state == State.PUBLISHED.value
    )


def latest(db: Session, section: str, limit: int) -> list[ContentItem]:
    stmt = _published(section).order_by(ContentItem.published_at.desc()).limit(limit)
    return list(db.scalars(stmt))


def listing(db: Session, section: str, flt: ListingFilter, number: int, size: int) -> Page:
    stmt = _published(section)
    if flt.department_id is not None:
        stmt = stmt.where(ContentItem.department_id == flt.department_id)
    if flt.year is not None:
        start = datetime(flt.year, 1, 1, tzinfo=UTC)
        stmt = stmt.where(
            ContentItem.published_at >= start,
            ContentItem.published_at < start.replace(year=flt.year + 1),
        )
    if flt.industry:
        stmt = stmt.where(
            ContentItem.id.in_(
                select(ContentIndustry.content_id).where(ContentIndustry.industry == flt.industry)
            )
        )
    if flt.validity:
        stmt = stmt.where(ContentItem.validity == flt.validity)
    if flt.q:
        like = f"%{flt.q.strip()[:50]}%"
        stmt = stmt.where(or_(ContentItem.title.like(like), ContentItem.doc_number.like(like)))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    number = paging.clamp(number, total, size)
    rows = db.scalars(
        stmt.order_by(ContentItem.published_at.desc(), ContentItem.id.desc())
        .limit(size)
        .offset((number - 1) * size)
    )
    return Page(list(rows), number, size, total, years(db, section))


def years(db: Session, section: str) -> list[int]:
    year = extract("year", ContentItem.published_at)
    stmt = (
        select(year)
        .where(ContentItem.section == section, ContentItem.state == State.PUBLISHED.value)
        .group_by(year)
        .order_by(year.desc())
    )
    return [int(y) for y in db.scalars(stmt) if y is not None]


def related(db: Session, item: ContentItem, limit: int = 5) -> list[ContentItem]:
    """Same section, sharing the department or an industry; newest first."""
    industries = item.industries
    conditions = []
    if item.department_id is not None:
        conditions.append(ContentItem.department_id == item.department_id)
    if industries:
        conditions.append(
            ContentItem.id.in_(
                select(ContentIndustry.content_id).where(ContentIndustry.industry.in_(industries))
            )
        )
    if not conditions:
        return []
    stmt = (
        _published(item.section)
        .where(ContentItem.id != item.id, or_(*conditions))
        .order_by(ContentItem.published_at.desc())
        .limit(limit)
    )
    return list(db.scalars(stmt))


def by_state(db: Session, states: list[str], created_by: int | None = None) -> list[ContentItem]:
    stmt = select(ContentItem).where(ContentItem.state.in_(states))
    if created_by is not None:
        stmt = stmt.where(ContentItem.created_by_id == created_by)
    return list(db.scalars(stmt.order_by(ContentItem.updated_at.desc()).limit(200)))
