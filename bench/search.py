"""Search benchmark: relevance and speed of the portal's search beside two baselines.

    .venv/bin/python bench/search.py                 # STARD, held-out queries
    .venv/bin/python bench/search.py --tune          # tune Weights on the tuning split
    .venv/bin/python bench/search.py --split all --skip-laws --skip-json

Systems, each over the same 58,614 STARD articles (title + body):

* ``whoosh-default``: whoosh's default analyzer, BM25F over title and body (baseline a);
* ``whoosh-jieba``: whoosh with jieba's ChineseAnalyzer, BM25F over title and body
  (baseline b);
* ``qzt``: the portal's search service (search.WhooshSearchService) as the portal runs
  it by default, without a term model, called the way the portal calls it (no facets
  or snippets for the relevance run);
* ``qzt+terms``: the same service with a term-association model (search/termmodel.py)
  learned here, at start, from the tuning split's labelled pairs only;
* ``qzt-whoosh-scorer``: qzt's analysis and query terms ranked by whoosh's own
  matcher tree instead of search/ranking.py, to show what the numpy ranking buys.

Queries are split by id: ``int(id) % 3 == 0`` is held out (419 queries); the rest
(816) is the tuning split, the only one the term model and ``--tune`` ever see.
Figures are printed one line per system: nDCG@10, MRR@10, Recall@10, Recall@100, and
p50/p99 latency per query. For the term model, the held-out figures are also split by
whether a relevant article was itself labelled in the tuning split (a model learned
from labelled pairs can partly memorise the articles it saw).
Indexes are cached under var/bench/ keyed by the corpus file, its size and mtime,
and the analysis version, and reused on the next run (pass --rebuild to time a build).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from search import schema as search_schema  # noqa: E402
from search import termmodel  # noqa: E402
from search.interfaces import Document, Query  # noqa: E402
from search.querying import DEFAULT_WEIGHTS, TERM_MODEL_WEIGHTS, Weights  # noqa: E402
from search.whoosh_backend import WhooshSearchService  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
STARD = os.path.join(DATA, "stard")
LAWS = [os.path.join(DATA, "laws", f) for f in ("laws_national.jsonl", "laws_local.jsonl")]
CACHE = os.path.join(ROOT, "var", "bench")

Search = Callable[[str], list[str]]


# -- data ------------------------------------------------------------------------------


def read_jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_queries(queries: str, qrels: str, split: str) -> list[tuple[str, str, set[str]]]:
    relevant: dict[str, set[str]] = {}
    for row in read_jsonl(qrels):
        if int(row.get("relevance", 1)) > 0:
            relevant.setdefault(str(row["query_id"]), set()).add(row["doc_id"])
    out = []
    for row in read_jsonl(queries):
        qid = str(row["id"])
        held_out = termmodel.is_held_out(qid)
        if qid in relevant and (split == "all" or (split == "heldout") == held_out):
            out.append((qid, row["text"], relevant[qid]))
    return out


def article_documents(path: str) -> Iterator[Document]:
    for row in read_jsonl(path):
        yield Document(id=row["id"], title=row["title"], body=row["body"], url="")


def law_documents(paths: list[str]) -> Iterator[Document]:
    for path in paths:
        for row in read_jsonl(path):
            day = row.get("publish_date")
            yield Document(
                id=row["id"],
                title=row["title"],
                body=row.get("body") or "",
                url="",
                doc_number=row.get("doc_number") or "",
                issuer=row.get("issuer") or "",
                section="regulation",
                department=row.get("province") or "",
                status="repealed" if row.get("superseded") else "in_force",
                superseded=bool(row.get("superseded")),
                date=date.fromisoformat(day) if day else None,
            )


def fingerprint(path: str, system: str) -> str:
    stat = os.stat(path)
    key = f"{os.path.abspath(path)}|{stat.st_size}|{int(stat.st_mtime)}|{system}"
    key += f"|schema{search_schema.SCHEMA_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


# -- metrics ---------------------------------------------------------------------------


def evaluate(name: str, search: Search, queries: list[tuple[str, str, set[str]]]) -> dict[str, Any]:
    ndcg, mrr, r10, r100, latency = [], [], [], [], []
    for _qid, text, relevant in queries:
        start = time.perf_counter()
        ranked = search(text)
        latency.append(time.perf_counter() - start)
        gains = [1.0 if doc in relevant else 0.0 for doc in ranked[:10]]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
        ndcg.append(dcg / ideal)
        mrr.append(next((1 / (i + 1) for i, g in enumerate(gains) if g), 0.0))
        r10.append(len(relevant & set(ranked[:10])) / len(relevant))
        r100.append(len(relevant & set(ranked[:100])) / len(relevant))
    latency.sort()
    return {
        "system": name,
        "nDCG@10": statistics.mean(ndcg),
        "MRR@10": statistics.mean(mrr),
        "R@10": statistics.mean(r10),
        "R@100": statistics.mean(r100),
        "p50": latency[len(latency) // 2] * 1000,
        "p99": latency[min(len(latency) - 1, int(len(latency) * 0.99))] * 1000,
    }


def line(result: dict[str, Any]) -> str:
    return (
        f"{result['system']:<20} nDCG@10={result['nDCG@10']:.3f} MRR@10={result['MRR@10']:.3f} "
        f"R@10={result['R@10']:.3f} R@100={result['R@100']:.3f} "
        f"p50={result['p50']:.1f}ms p99={result['p99']:.1f}ms"
    )


class Timer:
    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def throughput(label: str, count: int, timer: Timer) -> str:
    return (
        f"index {label}: {count} docs in {timer.wall:.1f}s wall ({count / timer.wall:.0f} docs/s), "
        f"{timer.cpu:.1f}s CPU ({count / max(timer.cpu, 1e-9):.0f} docs/s)"
    )


# -- the portal's service --------------------------------------------------------------


def qzt_index(corpus: str, rebuild: bool) -> tuple[WhooshSearchService, str | None]:
    path = os.path.join(CACHE, f"qzt-{fingerprint(corpus, 'qzt')}")
    built = None
    if rebuild or not os.path.exists(os.path.join(path, "DONE")):
        shutil.rmtree(path, ignore_errors=True)
        service = WhooshSearchService(path)
        count = 0
        with Timer() as timer, service.batch(bulk=True, replace=True) as batch:
            for doc in article_documents(corpus):
                batch.upsert(doc)
                count += 1
        built = throughput("STARD articles (qzt)", count, timer)
        with open(os.path.join(path, "DONE"), "w", encoding="utf-8") as handle:
            handle.write(built)
    else:
        with open(os.path.join(path, "DONE"), encoding="utf-8") as handle:
            built = handle.read().strip() + " [cached build]"
    return WhooshSearchService(path), built


def qzt_search(service: WhooshSearchService) -> Search:
    def run(text: str) -> list[str]:
        query = Query(text=text, page_size=100, facets=False, snippets=False)
        return [hit.id for hit in service.search(query).hits]

    return run


def qzt_whoosh_scorer(service: WhooshSearchService) -> Search:
    """The same query terms, ranked by whoosh's own BM25F matcher tree."""
    from whoosh import scoring

    from search import querying

    w = service.weights
    searcher = service._ix.searcher(
        weighting=scoring.BM25F(B=w.b, K1=w.k1, title_B=w.title_b, title_grams_B=w.title_b)
    )
    state = service._reader()

    def run(text: str) -> list[str]:
        parsed = querying.parse(text, service.max_query_chars)
        plan = querying.build(Query(text=text), parsed, w, state.snapshot.doc_share)
        if plan is None:
            return []
        hits = searcher.search(plan.as_whoosh(), limit=100)
        return [hit["id"] for hit in hits]

    return run


def learn_terms(
    service: WhooshSearchService, corpus: str, queries: str, qrels: str, keep: Callable[[str], bool]
) -> tuple[termmodel.TermModel, str]:
    """A term model from the labelled pairs whose query id ``keep`` accepts, with the
    index's own document shares as background (what ``python -m search.termmodel``
    counts from the corpus file)."""
    with Timer() as timer:
        texts = {row["id"]: (row["title"], row["body"]) for row in read_jsonl(corpus)}
        pairs = termmodel.labelled_pairs(texts, queries, qrels, keep)
        model = termmodel.learn(pairs, service._reader().snapshot.doc_share)
    entries = sum(len(v) for v in model.table.values())
    return model, (
        f"term model: {len(pairs)} tuning questions -> {len(model)} question terms, "
        f"{entries} associations, learned in {timer.wall:.1f}s"
    )


def breakdown(
    name: str, search: Search, queries: list[tuple[str, str, set[str]]], seen: set[str]
) -> list[str]:
    """The same run scored twice: against the relevant articles that were also labelled
    in the tuning split, and against those that were not (queries without any such
    article are left out of that line)."""
    lines = []
    for label, pick in (("labelled in tuning", True), ("not labelled in tuning", False)):
        part = [(q, t, {d for d in rel if (d in seen) == pick}) for q, t, rel in queries]
        part = [p for p in part if p[2]]
        result = evaluate(f"{name} [{label}: {len(part)} q]", search, part)
        lines.append(line(result).rsplit(" p50=", 1)[0])
    return lines


# -- baselines -------------------------------------------------------------------------


def baseline_index(corpus: str, system: str, rebuild: bool) -> tuple[Any, str]:
    from whoosh import fields, index

    path = os.path.join(CACHE, f"{system}-{fingerprint(corpus, system)}")
    if not rebuild and os.path.exists(os.path.join(path, "DONE")):
        with open(os.path.join(path, "DONE"), encoding="utf-8") as handle:
            return index.open_dir(path), handle.read().strip() + " [cached build]"
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    if system == "whoosh-jieba":
        from jieba.analyse import ChineseAnalyzer

        text = fields.TEXT(analyzer=ChineseAnalyzer())
        title = fields.TEXT(analyzer=ChineseAnalyzer())
    else:
        text, title = fields.TEXT(), fields.TEXT()
    ix = index.create_in(path, fields.Schema(id=fields.ID(stored=True), title=title, body=text))
    count = 0
    with Timer() as timer:
        writer = ix.writer()
        for doc in article_documents(corpus):
            writer.add_document(id=doc.id, title=doc.title, body=doc.body)
            count += 1
        writer.commit()
    built = throughput(f"STARD articles ({system})", count, timer)
    with open(os.path.join(path, "DONE"), "w", encoding="utf-8") as handle:
        handle.write(built)
    return ix, built


def baseline_search(ix: Any) -> Search:
    from whoosh import qparser, scoring

    parser = qparser.MultifieldParser(["title", "body"], ix.schema, group=qparser.OrGroup)
    searcher = ix.searcher(weighting=scoring.BM25F())

    def run(text: str) -> list[str]:
        try:
            query = parser.parse(text)
        except Exception:  # a baseline: whatever its parser cannot read finds nothing
            return []
        return [hit["id"] for hit in searcher.search(query, limit=100)]

    return run


# -- the other figures -----------------------------------------------------------------


def laws_throughput(paths: list[str]) -> str:
    directory = tempfile.mkdtemp(prefix="qzt-bench-laws-")
    try:
        service = WhooshSearchService(directory)
        count = 0
        with Timer() as timer, service.batch(bulk=True, replace=True) as batch:
            for doc in law_documents(paths):
                batch.upsert(doc)
                count += 1
        return throughput("full laws (qzt)", count, timer)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def json_latency(
    index_dir: str, queries: list[tuple[str, str, set[str]]], term_model: str = ""
) -> str:
    """Every query through GET /search.json (facets and snippets on), in-process."""
    import webtest
    from alembic import command

    from portal import main
    from portal import settings as settings_mod
    from portal.cli import alembic_config
    from portal.db import make_engine

    tmp = tempfile.mkdtemp(prefix="qzt-bench-json-")
    try:
        settings = settings_mod.load(
            {
                "here": tmp,
                "sqlalchemy.url": f"sqlite:///{tmp}/bench.sqlite",
                "qzt.search.index_dir": index_dir,
                "qzt.search.drain_interval": "0",
                "qzt.search.term_model": term_model,
                "qzt.jobs.enabled": "false",  # mail and digests have nothing to do here
            },
            environ={},
        )
        engine = make_engine(settings)
        cfg = alembic_config(settings)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
        app = webtest.TestApp(
            main({}, **{**settings, "qzt.engine": engine}), extra_environ={"HTTP_HOST": "localhost"}
        )
        latency = []
        for _qid, text, _rel in queries:
            start = time.perf_counter()
            app.get("/search.json", params={"q": text}, status="*")
            latency.append(time.perf_counter() - start)
        latency.sort()
        p50 = latency[len(latency) // 2] * 1000
        p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))] * 1000
        engine.dispose()
        label = "with the term model" if term_model else "without a term model"
        return (
            f"/search.json (facets + snippets, 10 hits, {label}): p50={p50:.1f}ms p99={p99:.1f}ms"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tune(
    service: WhooshSearchService, corpus: str, queries_path: str, qrels: str, folds: int = 4
) -> Weights:
    """Coordinate ascent on nDCG@10 over Weights, by cross-validation inside the tuning
    split: fold f's questions (``int(id) % folds == f``) are ranked with a term model
    learned from the other folds, so no question is scored by a model that saw it.
    Held-out questions are never read."""
    queries = load_queries(queries_path, qrels, "tune")
    models = []
    for fold in range(folds):
        model, _info = learn_terms(
            service,
            corpus,
            queries_path,
            qrels,
            lambda qid, f=fold: not termmodel.is_held_out(qid) and int(qid) % folds != f,
        )
        models.append((model, [q for q in queries if int(q[0]) % folds == fold]))

    def score(weights: Weights) -> float:
        service.weights = weights
        total = 0.0
        for model, part in models:
            service.term_model = model
            total += evaluate("tune", qzt_search(service), part)["nDCG@10"] * len(part)
        return total / len(queries)

    grid: dict[str, list[float]] = {
        "title": [0.25, 0.5, 1.0],
        "body": [1.0, 1.5, 2.0],
        "grams": [0.5, 1.0, 1.5],
        "k1": [1.2, 1.6, 2.0],
        "b": [0.6, 0.75, 0.9],
        "max_word_df": [0.1, 0.2, 1.0],
        "expansion": [0.6, 0.8, 1.0, 1.4],
        "expansion_grams": [0.25, 0.5, 1.0],
        "expansion_titles": [1.0, 2.0, 3.0, 4.0],
        "expansion_terms": [100, 200, 300, 400],
    }
    best = DEFAULT_WEIGHTS  # TERM_MODEL_WEIGHTS is where this ascent ended
    best_score = score(best)
    print(f"start {best_score:.4f} {best}", flush=True)
    for _round in range(2):
        for name, values in grid.items():
            for value in values:
                candidate = dataclasses.replace(best, **{name: value})
                candidate_score = score(candidate)
                if candidate_score > best_score + 1e-4:
                    best, best_score = candidate, candidate_score
                    print(f"  {name}={value}: {candidate_score:.4f}", flush=True)
    service.weights = best
    print(f"best by {folds}-fold cross-validation on the tuning split: nDCG@10={best_score:.4f}")
    print(f"  {best}")
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", default=os.path.join(STARD, "corpus.jsonl"))
    p.add_argument("--queries", default=os.path.join(STARD, "queries-train.jsonl"))
    p.add_argument("--qrels", default=os.path.join(STARD, "qrels-train.jsonl"))
    p.add_argument("--laws", nargs="*", default=LAWS)
    p.add_argument("--split", choices=["heldout", "tune", "all"], default="heldout")
    p.add_argument(
        "--systems", default="whoosh-default,whoosh-jieba,qzt,qzt+terms,qzt-whoosh-scorer"
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild cached indexes (timed)")
    p.add_argument("--skip-laws", action="store_true")
    p.add_argument("--skip-json", action="store_true")
    p.add_argument("--tune", action="store_true", help="tune Weights on the tuning split")
    args = p.parse_args(argv)
    os.makedirs(CACHE, exist_ok=True)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]

    service, built = qzt_index(args.corpus, args.rebuild)
    not_held_out = lambda qid: not termmodel.is_held_out(qid)  # noqa: E731
    if args.tune:
        tune(service, args.corpus, args.queries, args.qrels)
        service.term_model, _info = learn_terms(
            service, args.corpus, args.queries, args.qrels, not_held_out
        )
        held_out = load_queries(args.queries, args.qrels, "heldout")
        print(line(evaluate("qzt+terms (tuned)", qzt_search(service), held_out)))
        return 0

    queries = load_queries(args.queries, args.qrels, args.split)
    print(f"STARD: {len(queries)} {args.split} queries")
    print(f"qzt weights: {DEFAULT_WEIGHTS}\nqzt+terms weights: {TERM_MODEL_WEIGHTS}")
    model, learned = learn_terms(service, args.corpus, args.queries, args.qrels, not_held_out)
    print(learned)
    qzt_search(service)(queries[0][1])  # open the searcher (as a running portal has)
    builds = [built] if built else []
    results, notes = [], []
    for system in systems:
        if system in ("qzt", "qzt+terms"):
            with_model = system == "qzt+terms"
            service.term_model = model if with_model else None
            service.weights = TERM_MODEL_WEIGHTS if with_model else DEFAULT_WEIGHTS
            name = system if args.split == "heldout" or system == "qzt" else f"{system} (seen)"
            results.append(evaluate(name, qzt_search(service), queries))
            if args.split == "heldout":
                seen = {
                    d for _q, _t, rel in load_queries(args.queries, args.qrels, "tune") for d in rel
                }
                notes += breakdown(system, qzt_search(service), queries, seen)
            service.term_model, service.weights = None, DEFAULT_WEIGHTS
        elif system == "qzt-whoosh-scorer":
            results.append(evaluate(system, qzt_whoosh_scorer(service), queries))
        else:
            ix, info = baseline_index(args.corpus, system, args.rebuild)
            builds.append(info)
            results.append(evaluate(system, baseline_search(ix), queries))
        print(line(results[-1]), flush=True)
    for note in notes:
        print(note)
    for info in builds:
        print(info)
    if not args.skip_laws:
        print(laws_throughput(args.laws), flush=True)
    if not args.skip_json:
        print(json_latency(service.path, queries), flush=True)
        path = os.path.join(CACHE, "stard-terms-tune.json.gz")
        model.save(path)
        print(json_latency(service.path, queries, path), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
