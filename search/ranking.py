"""BM25F ranking over whoosh's posting lists, vectorised with numpy.

Why not whoosh's own scorer: it walks a tree of matcher objects, about a microsecond
of Python per posting. A layperson's question becomes 40–80 terms whose postings
add up to tens of thousands of entries: on the 58k STARD articles whoosh ranks them in
p50 287 ms, p99 3.4 s. Here each posting list is read once through whoosh's reader,
kept as two numpy arrays, and scored with array arithmetic: the same BM25 formula in
p50 3.4 ms, p99 12.2 ms (bench/README.md).

What is cached, and why it stays correct:

* Posting arrays and per-document columns belong to a *segment*. Whoosh segments
  never change once written (a new commit writes new segments; deletions are kept
  beside them), so they are cached by segment id across index changes and reused
  by every searcher that still contains that segment.
* A :class:`Snapshot` is built per searcher, i.e. per index generation: it joins the
  segments' arrays at their document offsets and applies the current deletions.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
from whoosh.reading import IndexReader, TermNotFound

#: (field, term, boost)
ScoredTerm = tuple[str, str, float]

FACET_COLUMNS = ("section", "department", "status", "year")
SCORED_FIELDS = ("title", "title_grams", "body", "grams")


def _posting_arrays(matcher: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (docnum, weight) of a posting list, read a block at a time."""
    child = getattr(matcher, "child", None)  # a FilterMatcher hiding deleted documents
    leaf = child if child is not None and hasattr(child, "_read_ids") else matcher
    ids: list[Any] = []
    weights: list[Any] = []
    if hasattr(leaf, "_read_ids") and hasattr(leaf, "_next_block"):
        # whoosh's W3LeafMatcher decodes a whole block (128 postings) at once; taking
        # the decoded block is ~50× faster than stepping posting by posting.
        while leaf.is_active():
            leaf._read_ids()
            leaf._read_weights()
            ids.extend(leaf._ids)
            weights.extend(leaf._weights)
            leaf._next_block()
    else:
        while leaf.is_active():
            ids.append(leaf.id())
            weights.append(leaf.weight())
            leaf.next()
    return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float32)


class _SegmentData:
    """What one immutable segment contributes: field lengths and facet columns."""

    def __init__(self, reader: IndexReader) -> None:
        count = reader.doc_count_all()
        self.doc_count = count
        self.lengths = {
            name: np.fromiter(
                (reader.doc_field_length(n, name, 0) for n in range(count)),
                dtype=np.float32,
                count=count,
            )
            for name in SCORED_FIELDS
        }
        self.columns: dict[str, list[str]] = {}
        for name in FACET_COLUMNS:
            column = reader.column_reader(name) if reader.has_column(name) else None
            self.columns[name] = (
                [str(v or "") for v in column] if column is not None else [""] * count
            )
        day = reader.column_reader("day") if reader.has_column("day") else None
        self.day = (
            np.fromiter((int(v or 0) for v in day), dtype=np.int64, count=count)
            if day is not None
            else np.zeros(count, dtype=np.int64)
        )


class SegmentCache:
    """Per-segment data and posting arrays, shared by the searchers of one process."""

    def __init__(self, max_postings: int = 8_000_000) -> None:
        self.max_postings = max_postings
        self._lock = threading.Lock()
        self._segments: dict[str, _SegmentData] = {}
        self._postings: OrderedDict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = (
            OrderedDict()
        )
        self._size = 0

    def segment(self, segid: str, reader: IndexReader) -> _SegmentData:
        found = self._segments.get(segid)
        if found is None:
            found = _SegmentData(reader)
            with self._lock:
                self._segments[segid] = found
        return found

    def postings(
        self, segid: str, reader: IndexReader, field: str, term: str
    ) -> tuple[np.ndarray, np.ndarray]:
        key = (segid, field, term)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        try:
            found = _posting_arrays(reader.postings(field, term))
        except TermNotFound:
            found = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        with self._lock:
            self._postings[key] = found
            self._size += len(found[0])
            while self._size > self.max_postings and len(self._postings) > 1:
                _key, (ids, _w) = self._postings.popitem(last=False)
                self._size -= len(ids)
        return found

    def forget_except(self, live: Iterable[str]) -> None:
        """Drop what belongs to segments that no longer exist (merged away)."""
        keep = set(live)
        with self._lock:
            for segid in [s for s in self._segments if s not in keep]:
                del self._segments[segid]
            for key in [k for k in self._postings if k[0] not in keep]:
                ids, _w = self._postings.pop(key)
                self._size -= len(ids)


class Snapshot:
    """One index generation as arrays: lengths, live documents, facet codes, dates."""

    def __init__(self, reader: IndexReader, cache: SegmentCache) -> None:
        self.cache = cache
        self.leaves: list[tuple[str, IndexReader, int]] = []
        parts: list[_SegmentData] = []
        for leaf, offset in reader.leaf_readers():
            if leaf.segment() is None:  # the empty index's reader
                continue
            segid = leaf.segment().segment_id()
            self.leaves.append((segid, leaf, offset))
            parts.append(cache.segment(segid, leaf))
        cache.forget_except(segid for segid, _l, _o in self.leaves)
        self.size = sum(p.doc_count for p in parts)
        self.live = np.ones(self.size, dtype=bool)
        for (_segid, leaf, offset), _part in zip(self.leaves, parts, strict=True):
            if leaf.has_deletions():
                deleted = np.fromiter(leaf.deleted_docs_set, dtype=np.int64)
                self.live[deleted + offset] = False
        self.live_count = max(1, int(self.live.sum()))
        self.all_live = bool(self.live.all())
        self.lengths = {
            name: np.concatenate([p.lengths[name] for p in parts])
            if parts
            else np.zeros(0, np.float32)
            for name in SCORED_FIELDS
        }
        self.avg_length = {
            name: max(1.0, float(lengths[self.live].sum()) / self.live_count)
            for name, lengths in self.lengths.items()
        }
        self.day = np.concatenate([p.day for p in parts]) if parts else np.zeros(0, np.int64)
        self.codes: dict[str, np.ndarray] = {}
        self.vocab: dict[str, list[str]] = {}
        for name in FACET_COLUMNS:
            values = [v for p in parts for v in p.columns[name]]
            vocab = sorted(set(values))
            index = {v: i for i, v in enumerate(vocab)}
            self.vocab[name] = vocab
            self.codes[name] = np.fromiter(
                (index[v] for v in values), dtype=np.int32, count=len(values)
            )

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for segid, leaf, offset in self.leaves:
            seg_ids, seg_weights = self.cache.postings(segid, leaf, field, term)
            if len(seg_ids):
                ids.append(seg_ids + offset if offset else seg_ids)
                weights.append(seg_weights)
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if len(ids) == 1:
            return ids[0], weights[0]
        return np.concatenate(ids), np.concatenate(weights)

    def doc_share(self, field: str, term: str) -> float:
        ids = self.postings(field, term)[0]
        live = len(ids) if self.all_live else int(np.count_nonzero(self.live[ids]))
        return live / self.live_count

    def score(
        self, terms: list[ScoredTerm], k1: float, b: dict[str, float], default_b: float
    ) -> np.ndarray:
        """BM25 per field, summed over fields and terms; 0 where nothing matched.

        Fields not in SCORED_FIELDS (文号) add their boost as a constant per match.
        """
        scores = np.zeros(self.size, dtype=np.float64)
        n = self.live_count
        # A question expanded by a term model has hundreds of terms: gather every
        # field's postings and score them in one pass instead of one pass per term.
        gathered: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[float]]] = {}
        for field, term, boost in terms:
            ids, tf = self.postings(field, term)
            if not len(ids):
                continue
            if field not in self.lengths:
                scores[ids] += boost
                continue
            # Postings of deleted documents stay until a merge: count only live ones,
            # or an often-updated term's df exceeds the document count.
            df = len(ids) if self.all_live else int(np.count_nonzero(self.live[ids]))
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            all_ids, all_tf, factors = gathered.setdefault(field, ([], [], []))
            all_ids.append(ids)
            all_tf.append(tf)
            factors.append(idf * boost)
        for field, (all_ids, all_tf, factors) in gathered.items():
            ids = np.concatenate(all_ids)
            tf = np.concatenate(all_tf)
            factor = np.repeat(np.asarray(factors, dtype=np.float32), [len(i) for i in all_ids])
            fb = b.get(field, default_b)
            norm = k1 * (1.0 - fb + fb * self.lengths[field][ids] / self.avg_length[field])
            part = factor * tf * (k1 + 1.0) / (tf + norm)
            scores += np.bincount(ids, weights=part, minlength=self.size)
        return scores

    def facet_counts(self, matched: np.ndarray) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for name in FACET_COLUMNS:
            vocab = self.vocab[name]
            counts = np.bincount(self.codes[name][matched], minlength=len(vocab))
            pairs = [(vocab[i], int(c)) for i, c in enumerate(counts) if c and vocab[i]]
            if name == "year":
                pairs.sort(key=lambda kv: kv[0], reverse=True)
            else:
                pairs.sort(key=lambda kv: (-kv[1], kv[0]))
            out[name] = pairs
        return out


def top(scores: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` best candidate documents by score (ties: lower docnum first)."""
    if count <= 0 or not len(candidates):
        return np.empty(0, dtype=np.int64)
    values = scores[candidates]
    if len(candidates) > count:
        part = np.argpartition(-values, count - 1)[:count]
        candidates, values = candidates[part], values[part]
    order = np.lexsort((candidates, -values))
    return candidates[order]


def newest(day: np.ndarray, scores: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` newest candidates, the better match first on the same day."""
    if count <= 0 or not len(candidates):
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((candidates, -scores[candidates], -day[candidates]))
    return candidates[order[:count]]
