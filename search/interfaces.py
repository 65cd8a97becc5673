"""The search contract: what is indexed, what is asked, what comes back.

The portal builds :class:`Document` values from its own models and hands them over;
search never reads the database. Every document says which principals may see it
(``allowed``), and every query says whose principals it runs with, so the same
index serves public content and staff-only records filtered by the same ACLs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date

from zope.interface import Interface

#: principal that every visitor has (pyramid.authorization.Everyone)
EVERYONE = "system.Everyone"

SORTS = ("relevance", "date")
FACETS = ("section", "department", "year", "status")


@dataclass(frozen=True)
class Document:
    """One searchable record. ``id`` is unique across kinds ("content:12")."""

    id: str
    title: str
    url: str
    body: str = ""
    summary: str = ""
    doc_number: str = ""
    issuer: str = ""
    section: str = ""
    department: str = ""
    industries: Sequence[str] = ()
    status: str = ""
    superseded: bool = False
    date: date | None = None
    allowed: Sequence[str] = (EVERYONE,)


@dataclass(frozen=True)
class Query:
    """A search as the user asked it, already bounded by the caller.

    ``text`` is free text; ``title``, ``doc_number`` and ``issuer`` come from the
    advanced form and narrow the result. Filters take facet values.
    """

    text: str = ""
    title: str = ""
    doc_number: str = ""
    issuer: str = ""
    section: str = ""
    department: str = ""
    year: int | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"
    page: int = 1
    page_size: int = 10
    principals: Sequence[str] = (EVERYONE,)
    facets: bool = True
    snippets: bool = True

    @property
    def has_terms(self) -> bool:
        return any(s.strip() for s in (self.text, self.title, self.doc_number, self.issuer))

    @property
    def has_filters(self) -> bool:
        return bool(
            self.section
            or self.department
            or self.year
            or self.status
            or self.date_from
            or self.date_to
        )


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    url: str
    score: float
    snippet: str = ""  # HTML: escaped text with <mark> around matched terms
    section: str = ""
    department: str = ""
    doc_number: str = ""
    status: str = ""
    superseded: bool = False
    date: date | None = None


@dataclass
class Results:
    """One page of hits. ``total`` is exact when facets were asked for; a ranked
    search without facets stops early and reports whoosh's estimate."""

    hits: list[Hit]
    total: int
    page: int
    page_size: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: a query that would find something when this one found nothing
    suggestion: str = ""
    #: what the search did to the query (msgids: truncated, syntax ignored …)
    notices: list[str] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))


class QueryError(ValueError):
    """A query that cannot run at all (nothing to search for)."""


class IIndexBatch(Interface):
    def upsert(document: Document) -> None:
        """Add ``document`` or replace the one with the same id."""

    def delete(document_id: str) -> None:
        """Remove a document; a missing one is not an error."""


class ISearchService(Interface):
    """Full-text search over the documents the portal hands in."""

    def batch(bulk: bool = False, replace: bool = False) -> AbstractContextManager[IIndexBatch]:
        """Hold the index's single write lock; changes become visible together when
        the block ends without error, and are dropped if it raises. ``bulk`` tunes
        the writer for many documents; with ``replace`` the batch's documents become
        the whole index (a rebuild), swapped in at once.

        Readers of the database that decide *what* to write should run inside the
        block: whoever writes last then always writes the newest state.
        """

    def search(query: Query) -> Results:
        """Ranked, filtered, paginated hits with facet counts and snippets."""

    def document_ids() -> Iterator[str]:
        """Ids of every indexed document (for consistency checks)."""

    def count() -> int:
        """How many documents are indexed."""

    def clear() -> None:
        """Remove every document (before a full rebuild)."""
