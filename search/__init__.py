"""Full-text search over published content (whoosh), behind ``ISearchService``.

Indexes the documents it is handed and answers queries; it imports no domain code.
``make_service`` is the one place that builds a service from settings-like values.
"""

from __future__ import annotations

from search.interfaces import Document, Hit, ISearchService, Query, Results

__all__ = ["Document", "Hit", "ISearchService", "Query", "Results", "make_service"]


def make_service(
    backend: str,
    index_dir: str,
    *,
    max_query_chars: int = 200,
    writer_timeout: float = 30.0,
    term_model: str = "",
) -> ISearchService:
    """``whoosh`` (an index in ``index_dir``) or ``null``; ``term_model`` is the path of
    a file written by ``python -m search.termmodel`` ("" for none)."""
    if backend == "null":
        from search.null import NullSearchService

        return NullSearchService()
    if backend == "whoosh":
        from search.termmodel import TermModel
        from search.whoosh_backend import WhooshSearchService

        return WhooshSearchService(
            index_dir,
            max_query_chars=max_query_chars,
            writer_timeout=writer_timeout,
            term_model=TermModel.load(term_model) if term_model else None,
        )
    raise ValueError(f"unknown search backend {backend!r} (whoosh or null)")
