"""The whoosh schema and the pure mapping from :class:`Document` to index fields.

Text is indexed twice (see search.analysis): ``title``/``body`` hold jieba words,
``title_grams``/``grams`` hold character bigrams. Facet fields are sortable columns,
so counting and sorting read a column instead of unpickling stored documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from whoosh import fields
from whoosh.analysis import Token, Tokenizer
from whoosh.system import pack_uint

from search import analysis, docnumbers
from search.interfaces import Document

#: bump when the schema or the analysis changes: an index built by another version is
#: rebuilt rather than queried with terms it does not contain
SCHEMA_VERSION = 3


def _words_of(text: str) -> list[str]:
    return analysis.words(text)


def _grams_of(text: str) -> list[str]:
    return analysis.bigrams(text)


class _TermsTokenizer(Tokenizer):
    """A whoosh tokenizer over one of the pure term functions (query-side helpers
    such as the spelling corrector go through it)."""

    def __init__(self, terms: Callable[[str], list[str]]) -> None:
        self.terms = terms

    def __call__(self, value: str, **kwargs: Any) -> Iterator[Token]:
        token = Token(**{k: v for k, v in kwargs.items() if k in ("positions", "chars", "mode")})
        for pos, term in enumerate(self.terms(value)):
            token.text, token.boost, token.stopped, token.pos = term, 1.0, False, pos
            yield token


class TermsField(fields.TEXT):
    """A frequency-only text field fed by a pure term function.

    Why not whoosh's analyzer chain: it builds a Token object per term in Python,
    which was the largest cost of indexing; counting the term list with Counter
    (in C) gives the same postings in a fraction of the time.
    """

    def __init__(
        self, terms: Callable[[str], list[str]], stored: bool = False, field_boost: float = 1.0
    ) -> None:
        super().__init__(
            analyzer=_TermsTokenizer(terms), phrase=False, stored=stored, field_boost=field_boost
        )
        self.terms = terms

    #: set by search.bulk.BulkSegmentWriter on its own copy of the schema: it writes
    #: this field's postings itself
    bulk_skip = False

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if self.bulk_skip:
            return
        if isinstance(value, list | tuple):
            value = "\n".join(value)
        boost = self.format.field_boost
        for term, freq in Counter(self.terms(value)).items():
            yield term.encode("utf-8"), freq, freq * boost, pack_uint(freq)


def build_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True, sortable=True),
        title=TermsField(_words_of, stored=True),
        title_grams=TermsField(_grams_of),
        body=TermsField(_words_of),
        grams=TermsField(_grams_of),
        issuer=TermsField(_grams_of, stored=True),
        # every tail of the 文号's agency, so 国务院令第300号 finds
        # 中华人民共和国国务院令第300号 (see docnumbers.DocNumber.candidate_keys)
        doc_number=fields.KEYWORD(scorable=False, commas=True),
        section=fields.ID(stored=True, sortable=True),
        department=fields.ID(stored=True, sortable=True),
        status=fields.ID(stored=True, sortable=True),
        year=fields.ID(stored=True, sortable=True),
        day=fields.NUMERIC(int, bits=32, stored=True, sortable=True),
        industries=fields.KEYWORD(stored=True, commas=True),
        allowed=fields.KEYWORD(commas=True),
        superseded=fields.BOOLEAN(stored=True),
        url=fields.STORED(),
        summary=fields.STORED(),
        text=fields.STORED(),
        doc_number_text=fields.STORED(),
    )


def day_number(value: date | None) -> int:
    return value.year * 10000 + value.month * 100 + value.day if value else 0


def day_from_number(value: int | None) -> date | None:
    if not value:
        return None
    return date(value // 10000, value // 100 % 100, value % 100)


def doc_number_keys(raw: str) -> list[str]:
    found = docnumbers.find(raw)
    if not found:
        key = docnumbers.normalise(raw)
        return [key] if key else []
    return found[0].candidate_keys()


def to_fields(doc: Document) -> dict[str, Any]:
    """The keyword arguments of ``writer.update_document`` for one document."""
    # The body fields also carry the 文号 and the issuer, so "国办发 79号" or a
    # ministry's name match as words even without the advanced form.
    body = analysis.join([doc.summary, doc.body, doc.issuer, doc.doc_number])
    keys = doc_number_keys(doc.doc_number) if doc.doc_number else []
    values: dict[str, Any] = {
        "id": doc.id,
        "title": doc.title,
        "title_grams": analysis.join([doc.title, doc.doc_number]),
        "body": body,
        "grams": body,
        "issuer": doc.issuer,
        "section": doc.section,
        "department": doc.department,
        "status": doc.status,
        "year": str(doc.date.year) if doc.date else "",
        "day": day_number(doc.date),
        "industries": ",".join(doc.industries),
        "allowed": ",".join(doc.allowed),
        "superseded": doc.superseded,
        "url": doc.url,
        "summary": doc.summary,
        "text": doc.body,
        "doc_number_text": doc.doc_number,
    }
    if keys:
        values["doc_number"] = ",".join(keys)
    # whoosh rejects empty strings in ID fields used as facets less gracefully than
    # absent values: leave empty ones out.
    return {k: v for k, v in values.items() if v != "" or k in ("title", "url")}
