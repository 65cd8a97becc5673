"""The Null twin of the search service: accepts writes, finds nothing.

For tools and deployments that run without an index (``qzt.search.backend = null``);
the search page then says that nothing matched rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from zope.interface import implementer

from search.interfaces import Document, IIndexBatch, ISearchService, Query, Results


@implementer(IIndexBatch)
class _NullBatch:
    def upsert(self, document: Document) -> None:
        pass

    def delete(self, document_id: str) -> None:
        pass


@implementer(ISearchService)
class NullSearchService:
    @contextmanager
    def batch(self, bulk: bool = False, replace: bool = False) -> Iterator[_NullBatch]:
        yield _NullBatch()

    def search(self, query: Query) -> Results:
        return Results([], 0, 1, query.page_size)

    def document_ids(self) -> Iterator[str]:
        return iter(())

    def count(self) -> int:
        return 0

    def clear(self) -> None:
        pass
