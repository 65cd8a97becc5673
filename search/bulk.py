"""A faster whoosh writer for full rebuilds.

Profiling a rebuild of the 58k STARD articles with whoosh's ``SegmentWriter`` (348 s)
showed three costs per posting, ~8.8 million times: the external sort of the
posting pool, a per-document field-length lookup from the lengths column while
writing each posting, and one Python call per posting into the block writer.

For the text fields (:class:`search.schema.TermsField`) this writer keeps postings
in per-term arrays instead of the pool (documents arrive in docnum order, so each
list is already sorted), remembers each document's field length as it goes, and
hands the block writer a whole block of 128 postings at a time. Everything else
(stored fields, columns, the id/facet fields) goes through whoosh unchanged, and the
segment it writes is an ordinary whoosh segment, read by the ordinary readers.

It relies on whoosh's W3 codec internals, which is why whoosh-reloaded is pinned;
tests/unit/search/test_bulk.py checks it writes what the ordinary writer writes.
"""

from __future__ import annotations

import copy
from array import array
from collections import Counter
from typing import Any

from whoosh.system import pack_uint
from whoosh.writing import SegmentWriter

from search.schema import TermsField

#: posting lists shorter than this are written uncompressed
SMALL_BLOCK = 32


class _LengthsFromBulk:
    """The per-document writer, told the text fields' lengths the bulk path computed
    (whoosh would otherwise record 0: it saw no postings for those fields)."""

    def __init__(self, inner: Any, pending: dict[str, int]) -> None:
        self.inner = inner
        self.pending = pending

    def add_field(self, fieldname: str, fieldobj: Any, value: Any, length: int) -> None:
        self.inner.add_field(fieldname, fieldobj, value, self.pending.get(fieldname, length))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class BulkSegmentWriter(SegmentWriter):
    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        # A copy: the index object shares its schema with every writer it makes, and
        # switching text indexing off there would silence the next ordinary writer.
        self.schema: Any = copy.deepcopy(self.schema)
        self.text_fields = {
            name: field for name, field in self.schema.items() if isinstance(field, TermsField)
        }
        for field in self.text_fields.values():
            field.bulk_skip = True
        self.terms: dict[str, dict[str, tuple[array[int], array[int]]]] = {
            name: {} for name in self.text_fields
        }
        self.lengths: dict[str, array[int]] = {name: array("I") for name in self.text_fields}
        self._pending: dict[str, int] = {}
        self.perdocwriter: Any = _LengthsFromBulk(self.perdocwriter, self._pending)

    def add_document(self, **fields: Any) -> None:
        docnum = self.docnum
        self._pending.clear()
        for name, field in self.text_fields.items():
            value = fields.get(name)
            length = 0
            if value:
                postings = self.terms[name]
                for term, freq in Counter(field.terms(value)).items():
                    found = postings.get(term)
                    if found is None:
                        found = postings[term] = (array("I"), array("I"))
                    found[0].append(docnum)
                    found[1].append(freq)
                    length += freq
            self.lengths[name].append(length)
            self._pending[name] = length
        super().add_document(**fields)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        # Whoosh's own fields first (their field ids come first, so the term index,
        # which wants keys in ascending order, stays sorted), then ours.
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        for fieldname in sorted(self.terms):
            self._write_field(fieldname)
        self.fieldwriter.close()
        if lengths:
            lengths.close()

    def _write_field(self, fieldname: str) -> None:
        terms = self.terms[fieldname]
        if not terms:
            return
        lengths = self.lengths[fieldname]
        fw = self.fieldwriter
        fw.start_field(fieldname, self.schema[fieldname])
        pw = fw._postwriter
        limit = pw._blocklimit
        level = pw._compression
        # The term index wants terms in byte order; for UTF-8 that is code point order.
        for term in sorted(terms):
            ids, freqs = terms[term]
            fw.start_term(term.encode("utf-8"))
            # Most bigrams occur in a handful of documents; zlib on a 30-byte block
            # costs more than it saves. The level is recorded per block, so readers
            # handle both.
            pw._compression = level if len(ids) >= SMALL_BLOCK else 0
            for start in range(0, len(ids), limit):
                if start:
                    pw._write_block()  # the previous, full block
                block_ids, block_freqs = ids[start : start + limit], freqs[start : start + limit]
                block_lengths = [lengths[d] for d in block_ids]
                pw._ids = block_ids
                pw._weights = array("f", block_freqs)
                pw._values = [pack_uint(f) for f in block_freqs]
                pw._maxweight = float(max(block_freqs))
                pw._minlength = min(block_lengths)
                pw._maxlength = max(block_lengths)
            fw.finish_term()  # writes the last block
        fw.finish_field()
