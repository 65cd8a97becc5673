"""A term-association model: the statute words that answer a layperson's words.

People ask "老板不给钱怎么办"; the article that answers says 用人单位 and 劳动报酬. No
tokenizer or stopword list bridges that gap, but labelled question → article pairs do:
for every question term (a jieba word or a character bigram), count how often each
term occurs in the articles that answer the questions containing it, and keep the
terms that occur there much more often than in documents at large. A question is then
expanded with the associated terms of all its own terms (query expansion; Berger &
Lafferty's "translation" view of retrieval, with a simple co-occurrence estimate).

Three kinds of target term are learned, each matched in its own index field:

* ``body`` words (``劳动报酬``) and ``grams`` (bigrams, for words jieba splits
  differently in statutes);
* ``title`` words, i.e. the name of the law that answers (``劳动合同法``), which acts as
  a law-level prior. Article numbers in titles (第五十四条) are never learned: they
  would name individual labelled articles rather than vocabulary.

Association score of target ``t`` for question term ``q`` over the ``n`` labelled
pairs whose question contains ``q``: with ``p = c(q, t) / (n + 1)`` and ``bg`` the
share of indexed documents containing ``t``, ``p · log(p / bg)`` when ``p > bg``
(the term's contribution to the KL divergence from the background). A question's
expansion sums its terms' scores per target, keeps the best ``Weights.expansion_terms``
and scales them so that the strongest weighs ``Weights.expansion`` (body words),
``expansion_grams`` or ``expansion_titles``.

Build one with ``python -m search.termmodel`` (see :func:`main`); the portal loads it
from ``qzt.search.term_model`` when that setting names a file. What it buys, and where
it does not help, is measured in bench/README.md and explained in docs/search.md.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from search import analysis
from search.ranking import ScoredTerm

if TYPE_CHECKING:
    from search.querying import Weights

FORMAT = "qzt-term-model"
VERSION = 1

#: the index field each kind of target term is matched in
FIELDS = {"w": "body", "g": "grams", "t": "title"}

#: title words that are only an article number (第五十四条, 五十, 十四条)
_NUMBERING = re.compile(r"^[第条款项零〇一二三四五六七八九十百千两0-9]+$")

#: (index field, term) -> share of the indexed documents containing the term
DocShare = Callable[[str, str], float]


def question_keys(text: str) -> set[str]:
    """The question terms a model is keyed by: ``w:`` words and ``g:`` bigrams."""
    return {f"w:{w}" for w in analysis.words(text)} | {f"g:{g}" for g in analysis.bigrams(text)}


def answer_keys(title: str, body: str) -> set[str]:
    """The target terms of one answering document: body words, body bigrams and the
    title's words other than article numbers."""
    keys = {f"w:{w}" for w in analysis.words(body)} | {f"g:{g}" for g in analysis.bigrams(body)}
    keys |= {f"t:{w}" for w in analysis.words(title) if not _NUMBERING.match(w)}
    return keys


@dataclass(frozen=True)
class Pair:
    """One labelled example: a question and the documents that answer it."""

    question: str
    answers: list[tuple[str, str]]  # (title, body)


class TermModel:
    """Question term → [(field, term, association score)], best first."""

    def __init__(self, table: dict[str, list[tuple[str, str, float]]], about: str = "") -> None:
        self.table = table
        self.about = about

    def __len__(self) -> int:
        return len(self.table)

    def expand(self, text: str, weights: Weights) -> list[ScoredTerm]:
        """The expansion terms of ``text`` with their boosts (empty if none is known)."""
        boosts = {"body": weights.expansion, "grams": weights.expansion_grams}
        boosts["title"] = weights.expansion_titles
        total: defaultdict[tuple[str, str], float] = defaultdict(float)
        for key in sorted(question_keys(text)):  # sorted: the same sums in every process
            for field, term, score in self.table.get(key, ()):
                total[field, term] += score
        # ties broken by the term, not by the order of a set (which varies by process)
        best = heapq.nsmallest(
            int(weights.expansion_terms), total.items(), key=lambda kv: (-kv[1], kv[0])
        )
        if not best or best[0][1] <= 0:
            return []
        top = best[0][1]
        terms = [
            (field, term, boosts.get(field, 0.0) * score / top) for (field, term), score in best
        ]
        return [t for t in terms if t[2] > 0]

    # -- files -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "about": self.about,
            "terms": {k: [[f, t, round(s, 6)] for f, t, s in v] for k, v in self.table.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TermModel:
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} file of version {VERSION}")
        table = {
            str(key): [(str(f), str(t), float(s)) for f, t, s in entries]
            for key, entries in data["terms"].items()
        }
        return cls(table, str(data.get("about", "")))

    def save(self, path: str) -> None:
        with _open(path, "wt") as handle:
            json.dump(self.to_json(), handle, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path: str) -> TermModel:
        with _open(path, "rt") as handle:
            return cls.from_json(json.load(handle))


def _open(path: str, mode: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode[0], encoding="utf-8")


def learn(pairs: Iterable[Pair], share: DocShare, per_term: int = 50, about: str = "") -> TermModel:
    """Associations from labelled pairs; ``share`` gives the background document
    share of a target term in its index field."""
    seen: Counter[str] = Counter()
    together: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for pair in pairs:
        questions = question_keys(pair.question)
        for title, body in pair.answers:
            targets = answer_keys(title, body)
            for key in questions:
                seen[key] += 1
                together[key].update(targets)
    table: dict[str, list[tuple[str, str, float]]] = {}
    for key, n in seen.items():
        scored: list[tuple[float, str, str]] = []
        for target, count in together[key].items():
            p = count / (n + 1.0)
            field = FIELDS[target[0]]
            background = max(share(field, target[2:]), 1e-9)
            if p > background:
                scored.append((p * math.log(p / background), field, target[2:]))
        scored.sort(key=lambda s: (-s[0], s[1], s[2]))
        if scored:
            table[key] = [(f, t, s) for s, f, t in scored[:per_term]]
    return TermModel(table, about)


def corpus_shares(documents: Iterable[tuple[str, str]]) -> DocShare:
    """Background shares counted from (title, body) texts, the way the index counts
    them (the ``body``, ``grams`` and ``title`` fields)."""
    counts: Counter[tuple[str, str]] = Counter()
    total = 0
    for title, body in documents:
        total += 1
        counts.update(("body", w) for w in set(analysis.words(body)))
        counts.update(("grams", g) for g in set(analysis.bigrams(body)))
        counts.update(("title", w) for w in set(analysis.words(title)))
    size = max(1, total)
    return lambda field, term: counts[field, term] / size


# -- building one from a labelled set (STARD's layout) -----------------------------------


def _jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def is_held_out(query_id: str) -> bool:
    """The benchmark's split (bench/search.py): ids divisible by 3 are never learned
    from or tuned on."""
    return query_id.isdecimal() and int(query_id) % 3 == 0


def labelled_pairs(
    corpus: dict[str, tuple[str, str]], queries: str, qrels: str, keep: Callable[[str], bool]
) -> list[Pair]:
    """Pairs from JSON Lines files: queries ``{id, text}``, qrels ``{query_id, doc_id,
    relevance}``, for the query ids that ``keep`` accepts."""
    answers: defaultdict[str, list[str]] = defaultdict(list)
    for row in _jsonl(qrels):
        if int(row.get("relevance", 1)) > 0:
            answers[str(row["query_id"])].append(str(row["doc_id"]))
    pairs = []
    for row in _jsonl(queries):
        qid = str(row["id"])
        docs = [corpus[d] for d in answers.get(qid, ()) if d in corpus]
        if docs and keep(qid):
            pairs.append(Pair(str(row["text"]), docs))
    return pairs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m search.termmodel",
        description="Learn a term-association model from labelled questions (JSON Lines).",
    )
    p.add_argument("--corpus", required=True, help="documents {id, title, body}")
    p.add_argument("--queries", required=True, help="questions {id, text}")
    p.add_argument("--qrels", required=True, help="judgements {query_id, doc_id, relevance}")
    p.add_argument(
        "--split",
        choices=["tune", "all"],
        default="tune",
        help="tune: leave out the held-out questions (id %% 3 == 0); all: use every one",
    )
    p.add_argument("--per-term", type=int, default=50)
    p.add_argument("--out", required=True, help="the model file (.json or .json.gz)")
    args = p.parse_args(argv)
    corpus = {str(r["id"]): (str(r.get("title", "")), str(r["body"])) for r in _jsonl(args.corpus)}
    keep = (lambda qid: not is_held_out(qid)) if args.split == "tune" else (lambda qid: True)
    pairs = labelled_pairs(corpus, args.queries, args.qrels, keep)
    about = f"learned from {len(pairs)} questions ({args.split} split) of {args.queries}"
    model = learn(pairs, corpus_shares(corpus.values()), args.per_term, about)
    model.save(args.out)
    entries = sum(len(v) for v in model.table.values())
    print(f"{args.out}: {len(model)} question terms, {entries} associations; {about}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
