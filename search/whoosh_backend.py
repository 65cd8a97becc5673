"""``ISearchService`` on a whoosh index in a directory.

Concurrency: whoosh allows one writer per index, enforced by a lock file. Every
write goes through :meth:`WhooshSearchService.batch`, which waits for that lock
(``writer_timeout``) instead of failing, so several portal processes can index at
once; readers never block and see a commit on their next query.

Speed: each thread keeps one searcher and reopens it only when the index changed;
ranking, facets and sorting run on numpy arrays built from whoosh's posting lists
(search/ranking.py); filters (the ACL, facets) are cached per searcher as masks.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from whoosh import index, writing
from whoosh import query as wq
from whoosh.searching import Searcher
from zope.interface import implementer

from search import analysis, querying, ranking, schema, snippets
from search.bulk import BulkSegmentWriter
from search.interfaces import Document, Hit, IIndexBatch, ISearchService, Query, Results
from search.termmodel import TermModel

log = logging.getLogger(__name__)

_VERSION_FILE = "QZT_SCHEMA_VERSION"


@implementer(IIndexBatch)
class _Batch:
    def __init__(self, writer: writing.SegmentWriter, replace: bool) -> None:
        self.writer = writer
        # A rebuild starts from nothing: adding skips the per-document delete lookup.
        self._write = writer.add_document if replace else writer.update_document
        self.changed = 0

    def upsert(self, document: Document) -> None:
        self._write(**schema.to_fields(document))
        self.changed += 1

    def delete(self, document_id: str) -> None:
        self.writer.delete_by_term("id", document_id)
        self.changed += 1


class _ReaderState:
    """One thread's searcher, its arrays, and the filter masks computed from it."""

    def __init__(self, searcher: Searcher, cache: ranking.SegmentCache) -> None:
        self.searcher = searcher
        self.snapshot = ranking.Snapshot(searcher.reader(), cache)
        self.masks: OrderedDict[str, np.ndarray] = OrderedDict()


@implementer(ISearchService)
class WhooshSearchService:
    def __init__(
        self,
        path: str,
        weights: querying.Weights | None = None,
        max_query_chars: int = 200,
        writer_timeout: float = 30.0,
        term_model: TermModel | None = None,
    ) -> None:
        self.path = path
        if weights is None:
            weights = querying.TERM_MODEL_WEIGHTS if term_model else querying.DEFAULT_WEIGHTS
        self.weights = weights
        #: expands questions with associated statute terms (search/termmodel.py)
        self.term_model = term_model
        self.max_query_chars = max_query_chars
        self.writer_timeout = writer_timeout
        self._ix = self._open(path)
        self._local = threading.local()
        self._cache = ranking.SegmentCache()

    # -- the index -------------------------------------------------------------------

    @staticmethod
    def _open(path: str) -> index.Index:
        os.makedirs(path, exist_ok=True)
        version_file = os.path.join(path, _VERSION_FILE)
        version = ""
        if os.path.exists(version_file):
            with open(version_file, encoding="ascii") as handle:
                version = handle.read().strip()
        if index.exists_in(path) and version == str(schema.SCHEMA_VERSION):
            return index.open_dir(path)
        if index.exists_in(path):
            # Terms made by another analysis would silently never match: start empty
            # and let `qzt reindex` (or the outbox) fill it again.
            log.warning("search index at %s has schema %r: recreating it", path, version)
        ix = index.create_in(path, schema.build_schema())
        with open(version_file, "w", encoding="ascii") as handle:
            handle.write(str(schema.SCHEMA_VERSION))
        return ix

    @contextmanager
    def batch(self, bulk: bool = False, replace: bool = False) -> Iterator[_Batch]:
        # timeout/delay: wait for another process's writer rather than raise LockError
        options: dict[str, Any] = {"timeout": self.writer_timeout, "delay": 0.05}
        if bulk:
            options["limitmb"] = 512
        writer = BulkSegmentWriter(self._ix, **options) if replace else self._ix.writer(**options)
        batch = _Batch(writer, replace)
        try:
            yield batch
        except BaseException:
            writer.cancel()
            raise
        # CLEAR drops every older segment in the same commit: readers switch from the
        # old index to the new one at once, never seeing it half built.
        writer.commit(mergetype=writing.CLEAR if replace else None)

    def clear(self) -> None:
        with self.batch(replace=True):
            pass

    def count(self) -> int:
        return int(self._reader().searcher.doc_count())

    def document_ids(self) -> Iterator[str]:
        searcher = self._reader().searcher
        column = searcher.reader().column_reader("id")
        for docnum in searcher.reader().all_doc_ids():
            yield column[docnum]

    def _reader(self) -> _ReaderState:
        state: _ReaderState | None = getattr(self._local, "state", None)
        if state is None or not state.searcher.up_to_date():
            # Not searcher.refresh(): whoosh-reloaded 2.7.5's Index._reader(reuse=...)
            # appends the old reader's segments to the new list, so merged-away
            # segments (and old versions of updated documents) come back. A new
            # searcher costs a few milliseconds, once per index change per thread.
            if state is not None:
                state.searcher.close()
            state = _ReaderState(self._ix.searcher(), self._cache)
            self._local.state = state
        return state

    def _mask(self, state: _ReaderState, flt: wq.Query) -> np.ndarray:
        """Documents matching ``flt`` as a boolean array, cached for the searcher's
        lifetime (an ACL or facet filter repeats across queries)."""
        key = repr(flt)
        found = state.masks.get(key)
        if found is None:
            found = np.zeros(state.snapshot.size, dtype=bool)
            docs = np.fromiter(flt.docs(state.searcher), dtype=np.int64)
            found[docs] = True
            found &= state.snapshot.live
            state.masks[key] = found
            if len(state.masks) > 128:
                state.masks.popitem(last=False)
        else:
            state.masks.move_to_end(key)
        return found

    # -- searching -------------------------------------------------------------------

    def search(self, query: Query) -> Results:
        parsed = querying.parse(query.text, self.max_query_chars)
        state = self._reader()
        plan = querying.build(
            query, parsed, self.weights, state.snapshot.doc_share, self.term_model
        )
        notices = list(parsed.notices)
        if plan is None:
            if query.has_terms:
                notices.append(querying.NOTHING_TO_SEARCH)
            if not query.has_filters:
                return Results([], 0, 1, max(1, query.page_size), notices=notices)
            plan = querying.Plan([])
        terms = querying.highlight_terms(parsed, query) if query.snippets else None
        results = self._run(state, plan, query, terms)
        results.notices = notices
        if results.total == 0 and query.has_terms:
            results.suggestion = self._suggest(state, parsed)
        return results

    def _run(
        self, state: _ReaderState, plan: querying.Plan, query: Query, terms: list[str] | None
    ) -> Results:
        snap = state.snapshot
        w = self.weights
        allowed = self._mask(state, querying.filters(query))
        if plan.required is not None:
            allowed = allowed & self._mask(state, plan.required)
        if plan.excluded is not None:
            allowed = allowed & ~self._mask(state, plan.excluded)
        b = {"title": w.title_b, "title_grams": w.title_b}
        scores = snap.score(plan.terms, w.k1, b, w.b)
        matched = allowed & (scores > 0) if plan.terms else allowed
        candidates = np.flatnonzero(matched)
        size = max(1, query.page_size)
        total = len(candidates)
        page = min(max(1, query.page), max(1, -(-total // size)))
        if plan.terms and query.sort != "date":
            ranked = ranking.top(scores, candidates, page * size)
        else:
            ranked = ranking.newest(snap.day, scores, candidates, page * size)
        hits = [
            self._hit(state.searcher, int(docnum), float(scores[docnum]), terms)
            for docnum in ranked[(page - 1) * size :]
        ]
        facets = snap.facet_counts(matched) if query.facets else {}
        return Results(hits, total, page, size, facets)

    @staticmethod
    def _hit(searcher: Searcher, docnum: int, score: float, terms: list[str] | None) -> Hit:
        stored = searcher.stored_fields(docnum)
        snippet = ""
        if terms is not None:
            texts = [stored.get("summary") or "", stored.get("text") or ""]
            snippet = str(snippets.best_snippet(texts, terms))
        return Hit(
            id=stored["id"],
            title=stored.get("title", ""),
            url=stored.get("url", ""),
            score=round(score, 4),
            snippet=snippet,
            section=stored.get("section", ""),
            department=stored.get("department", ""),
            doc_number=stored.get("doc_number_text", ""),
            status=stored.get("status", ""),
            superseded=bool(stored.get("superseded", False)),
            date=schema.day_from_number(stored.get("day")),
        )

    def _suggest(self, state: _ReaderState, parsed: querying.Parsed) -> str:
        """ "Did you mean": known words for unknown ones, or the phrases unquoted."""
        searcher = state.searcher
        corrector = searcher.corrector("title")
        text = parsed.text
        changed = False
        for word in dict.fromkeys(analysis.words(parsed.text)):
            if searcher.doc_frequency("body", word) or searcher.doc_frequency("title", word):
                continue
            better = corrector.suggest(word, limit=1, maxdist=1)
            if better and better[0] != word:
                text = text.replace(word, better[0])
                changed = True
        if changed:
            return " ".join([text, *parsed.phrases]).strip()
        if parsed.phrases:
            return " ".join([parsed.text, *parsed.phrases]).strip()
        return ""
