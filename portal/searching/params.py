"""The search form's query string → a ``search.Query`` and per-field errors.

GET parameters come from anyone, typed or forged: every value is bounded, and a value
that cannot be used becomes an error message for its field (shown beside it on the
page, or in the JSON ``errors``) while the rest of the search still runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from portal.content.models import Section, Validity
from portal.i18n import N_
from search.interfaces import SORTS, Query

#: free-text parameters and their caps; ``q`` gets a generous cap here because the
#: search service shortens it itself and tells the user (qzt.search.max_query_chars)
TEXT_FIELDS = {"q": 4000, "title": 100, "doc_number": 100, "issuer": 100, "department": 100}
MAX_PAGE = 1000

BAD_DATE = N_("Please enter a date such as 2024-03-01.")
DATES_REVERSED = N_("The end date is before the start date.")
BAD_SECTION = N_("There is no such section.")
BAD_STATUS = N_("There is no such validity status.")
BAD_YEAR = N_("Please enter a year such as 2024.")


@dataclass
class SearchParams:
    query: Query
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def advanced(self) -> bool:
        keys = ("title", "doc_number", "issuer", "date_from", "date_to")
        return any(self.values.get(k) for k in keys)

    def link(self, **changes: Any) -> dict[str, str]:
        """The current search's parameters with ``changes`` (None removes one)."""
        merged: dict[str, Any] = {k: v for k, v in self.values.items() if v}
        merged.pop("page", None)
        for key, value in changes.items():
            if value in (None, ""):
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        return merged


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _choice(raw: str, allowed: set[str], errors: dict[str, str], name: str, msg: str) -> str:
    if raw and raw not in allowed:
        errors[name] = msg
        return ""
    return raw


def parse(params: Any, page_size: int, principals: list[str]) -> SearchParams:
    """Read a MultiDict-like ``params``; never raises on any input."""
    values = {name: str(params.get(name, ""))[:cap].strip() for name, cap in TEXT_FIELDS.items()}
    for name in ("section", "status", "year", "sort", "page", "date_from", "date_to"):
        values[name] = str(params.get(name, ""))[:20].strip()
    errors: dict[str, str] = {}
    section = _choice(values["section"], {s.value for s in Section}, errors, "section", BAD_SECTION)
    status = _choice(values["status"], {v.value for v in Validity}, errors, "status", BAD_STATUS)
    year = None
    if values["year"]:
        if values["year"].isdecimal() and 1900 <= int(values["year"]) <= 2100:
            year = int(values["year"])
        else:
            errors["year"] = BAD_YEAR
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        dates[name] = _date(values[name]) if values[name] else None
        if values[name] and dates[name] is None:
            errors[name] = BAD_DATE
    if dates["date_from"] and dates["date_to"] and dates["date_to"] < dates["date_from"]:
        errors["date_to"] = DATES_REVERSED
        dates["date_to"] = None
    page = int(values["page"]) if values["page"].isdecimal() else 1
    query = Query(
        text=values["q"],
        title=values["title"],
        doc_number=values["doc_number"],
        issuer=values["issuer"],
        section=section,
        department=values["department"],
        year=year,
        status=status,
        date_from=dates["date_from"],
        date_to=dates["date_to"],
        sort=values["sort"] if values["sort"] in SORTS else "relevance",
        page=max(1, min(page, MAX_PAGE)),
        page_size=page_size,
        principals=tuple(principals),
    )
    return SearchParams(query, values, errors)
