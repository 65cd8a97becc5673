"""From what a person typed to a whoosh query.

Parsing never fails: search boxes receive pasted paragraphs, half a pair of quotes
and stray operators, and each becomes a notice on the result page rather than an
error. Supported syntax is deliberately small: ``"exact phrase"`` must appear,
``-word`` must not, a 文号 in any bracket form is looked up exactly; everything else
is text ranked with BM25F over words and character bigrams.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from whoosh import query as wq

from search import analysis, docnumbers
from search.interfaces import EVERYONE, Query
from search.ranking import ScoredTerm
from search.termmodel import TermModel

# msgids shown to the user (translated by the portal)
TRUNCATED = "Your search was shortened to its first ${n} characters."
UNBALANCED_QUOTE = "A quotation mark had no partner; it was ignored."
NOTHING_TO_SEARCH = (
    "Please type what you are looking for: words such as “how” or “can” alone are not searched."
)

_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "『": '"', "』": '"', "＂": '"'})
_PHRASE = re.compile(r'"([^"]*)"')
_EXCLUDED = re.compile(r"(?:^|\s)[-－](\S+)")
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT)\b|&&|\|\||[+*?~^:\\/{}\[\]!]")


@dataclass(frozen=True)
class Weights:
    """Per-field term boosts and BM25 parameters.

    The defaults were tuned with ``bench/search.py --tune`` on two thirds of the STARD
    train queries and checked on the third left out (bench/README.md). They weigh
    body text over titles: STARD's titles are a law's name and an article number,
    and character bigrams of titles (中华/华人/人民…) matched questions by accident.
    """

    title: float = 0.5
    body: float = 1.5
    title_grams: float = 0.0
    grams: float = 1.0
    doc_number: float = 25.0
    k1: float = 1.6
    b: float = 0.75
    title_b: float = 0.5
    #: leave out terms found in more than this share of documents (1.0 = keep all);
    #: a question made only of such terms keeps them
    max_gram_df: float = 1.0
    max_word_df: float = 0.2
    #: with a term model (search/termmodel.py): the boost of the strongest expansion
    #: term per field (statute words, their bigrams, law names), and how many to add
    expansion: float = 1.0
    expansion_grams: float = 0.5
    expansion_titles: float = 3.0
    expansion_terms: int = 300


DEFAULT_WEIGHTS = Weights()

#: The weights when a term model expands questions, chosen the same way but with a
#: model in the loop (``bench/search.py --tune``: 4-fold cross-validation inside the
#: tuning split, each fold ranked by a model learned from the other three). With a few
#: hundred expansion terms per question, term frequency saturating sooner (k1 1.2) and
#: long articles penalised more (b 0.9) pays; without a model it does not.
TERM_MODEL_WEIGHTS = replace(
    DEFAULT_WEIGHTS,
    title=0.25,
    body=2.0,
    k1=1.2,
    b=0.9,
    expansion=0.8,
    expansion_titles=4.0,
    expansion_terms=200,
)


@dataclass
class Parsed:
    text: str
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    doc_numbers: list[docnumbers.DocNumber] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        has_text = analysis.words(self.text) or analysis.bigrams(self.text)
        return not (has_text or self.phrases or self.doc_numbers)


def parse(raw: str, max_chars: int) -> Parsed:
    """Split user input into free text, phrases, exclusions and 文号; never raises."""
    notices: list[str] = []
    text = raw.strip()
    if len(text) > max_chars:
        text = text[:max_chars]
        notices.append(TRUNCATED)
    text = text.translate(_QUOTES)
    if text.count('"') % 2:
        head, _, tail = text.rpartition('"')
        text = head + " " + tail
        notices.append(UNBALANCED_QUOTE)
    phrases = [p.strip() for p in _PHRASE.findall(text) if analysis.bigrams(p)]
    text = _PHRASE.sub(" ", text)
    numbers = docnumbers.find(analysis.normalise(text))  # 國辦發…號 too
    excluded = [e for e in _EXCLUDED.findall(text) if analysis.bigrams(e)]
    text = _EXCLUDED.sub(" ", text)
    text = _OPERATORS.sub(" ", text)
    return Parsed(text.strip(), phrases, excluded, numbers, notices)


def _all_grams(field_name: str, text: str) -> wq.Query | None:
    grams = list(dict.fromkeys(analysis.bigrams(text)))
    if not grams:
        return None
    return wq.And([wq.Term(field_name, g) for g in grams])


#: (field, term) -> share of the indexed documents containing the term
DocFrequency = Callable[[str, str], float]


def ranking(text: str, weights: Weights, df: DocFrequency | None = None) -> list[ScoredTerm]:
    """Every word and bigram of ``text``, over title and body, with its boost.

    With ``df``, too-common terms are left out when there are others (a question made
    only of common words keeps them).
    """
    words = Counter(analysis.words(text))
    grams = Counter(analysis.bigrams(text))
    if df is not None:
        words = _drop_common(words, df, weights.max_word_df, "body")
        grams = _drop_common(grams, df, weights.max_gram_df, "grams")
    terms: list[ScoredTerm] = []
    for word, n in words.items():
        terms.append(("title", word, weights.title * n))
        terms.append(("body", word, weights.body * n))
    for gram, n in grams.items():
        terms.append(("title_grams", gram, weights.title_grams * n))
        terms.append(("grams", gram, weights.grams * n))
    return [t for t in terms if t[2] > 0]


def _drop_common(
    terms: Counter[str], df: DocFrequency, limit: float, field_name: str
) -> Counter[str]:
    if limit >= 1.0:
        return terms
    kept = Counter({t: n for t, n in terms.items() if df(field_name, t) <= limit})
    return kept if kept else terms


def doc_number_terms(numbers: list[docnumbers.DocNumber], weights: Weights) -> list[ScoredTerm]:
    """Any tail of the typed 文号; longer agreeing agencies weigh more, so the exact
    document outranks one whose agency only shares a suffix."""
    terms: list[ScoredTerm] = []
    for number in numbers:
        for key in number.candidate_keys():
            agency_len = len(key) - len(number.key(""))
            terms.append(("doc_number", key, weights.doc_number * agency_len))
    return terms


@dataclass
class Plan:
    """What to run: ``terms`` rank; documents must match ``required`` and must not
    match ``excluded`` (whoosh queries, evaluated as document sets). Without terms
    the matching documents are listed newest first."""

    terms: list[ScoredTerm]
    required: wq.Query | None = None
    excluded: wq.Query | None = None

    def as_whoosh(self) -> wq.Query:
        """The same ranking as one whoosh query (to compare with whoosh's own scorer)."""
        if not self.terms:
            return wq.Every()
        return wq.Or([wq.Term(f, t, boost=b) for f, t, b in self.terms])


def build(
    q: Query,
    parsed: Parsed,
    weights: Weights,
    df: DocFrequency | None = None,
    model: TermModel | None = None,
) -> Plan | None:
    """The plan for ``q``; ``None`` when nothing is asked. With a term ``model``, the
    free text and phrases are expanded with the statute terms associated with them."""
    terms = ranking(parsed.text, weights, df) + doc_number_terms(parsed.doc_numbers, weights)
    if model is not None:
        terms += model.expand(" ".join([parsed.text, *parsed.phrases]), weights)
    required: list[wq.Query] = []
    for phrase in parsed.phrases:
        must, title_must = _all_grams("grams", phrase), _all_grams("title_grams", phrase)
        if must is not None and title_must is not None:
            required.append(wq.Or([must, title_must]))
            terms += ranking(phrase, weights)
    if q.title.strip():
        must = _all_grams("title_grams", q.title)
        if must is not None:
            required.append(must)
            terms += ranking(q.title, weights)
    if q.doc_number.strip():
        numbers = docnumbers.find(analysis.normalise(q.doc_number))
        exact = [n.key() for n in numbers] or [docnumbers.normalise(q.doc_number)]
        required.append(wq.Or([wq.Term("doc_number", k) for k in exact]))
        terms += doc_number_terms(numbers, weights)
    if q.issuer.strip():
        must = _all_grams("issuer", q.issuer)
        if must is not None:
            required.append(must)
    if not terms and not required:
        return None
    banned: list[wq.Query] = []
    for word in parsed.excluded:
        in_body, in_title = _all_grams("grams", word), _all_grams("title_grams", word)
        if in_body is not None and in_title is not None:
            banned.append(wq.Or([in_body, in_title]))
    return Plan(
        terms=terms,
        required=wq.And(required) if required else None,
        excluded=wq.Or(banned) if banned else None,
    )


def filters(q: Query) -> wq.Query:
    """Facet and date filters plus the ACL: documents allowed to one of the
    searcher's principals."""
    parts: list[wq.Query] = [wq.Or([wq.Term("allowed", p) for p in (q.principals or [EVERYONE])])]
    for name in ("section", "department", "status"):
        value = getattr(q, name)
        if value:
            parts.append(wq.Term(name, value))
    if q.year:
        parts.append(wq.Term("year", str(q.year)))
    if q.date_from or q.date_to:
        from search.schema import day_number

        low = day_number(q.date_from) if q.date_from else None
        high = day_number(q.date_to) if q.date_to else None
        parts.append(wq.NumericRange("day", low, high))
    return wq.And(parts) if len(parts) > 1 else parts[0]


def highlight_terms(parsed: Parsed, q: Query) -> list[str]:
    """What to mark in snippets: the words of the query, longest first."""
    text = " ".join([parsed.text, *parsed.phrases, q.title])
    found = set(analysis.words(text))
    return sorted(found, key=len, reverse=True)
