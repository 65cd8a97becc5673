"""Search benchmark: relevance and speed of the portal's search beside two baselines.

    .venv/bin/python bench/search.py                 # STARD, held-out queries
    .venv/bin/python bench/search.py --tune          # tune Weights on the tuning split
    .venv/bin/python bench/search.py --split all --skip-laws --skip-json

Systems, each over the same 58,614 STARD articles (title + body):

* ``whoosh-default``: whoosh's default analyzer, BM25F over title and body;
* ``whoosh-jieba``: whoosh with jieba's ChineseAnalyzer, BM25F over title and body;
* ``qzt``: the portal's search service (search.WhooshSearchService), called the way
  the portal calls it (no facets or snippets for the relevance run);
* ``qzt-whoosh-scorer``: the same analysis and query terms ranked by whoosh's own
  matcher tree instead of search/ranking.py, to show what the numpy ranking buys.

Queries are split by id: ``int(id) % 3 == 0`` is held out (419 queries); the rest
(816) is the tuning split that ``--tune`` may look at. Figures are printed one line
per system: nDCG@10, MRR@10, Recall@10, Recall@100, and p50/p99 latency per query.
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
from search.interfaces import Document, Query  # noqa: E402
from search.querying import DEFAULT_WEIGHTS, Weights  # noqa: E402
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
        held_out = int(qid) % 3 == 0 if qid.isdigit() else False
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


def json_latency(index_dir: str, queries: list[tuple[str, str, set[str]]]) -> str:
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
        return f"/search.json (facets + snippets, 10 hits): p50={p50:.1f}ms p99={p99:.1f}ms"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tune(service: WhooshSearchService, queries: list[tuple[str, str, set[str]]]) -> Weights:
    """Coordinate ascent on nDCG@10 over a few Weights fields (tuning split only)."""
    grid: dict[str, list[float]] = {
        "title": [0.5, 1.0, 2.0, 3.0],
        "body": [0.5, 1.0, 1.5],
        "title_grams": [0.0, 0.5, 1.0, 2.0],
        "grams": [0.25, 0.5, 1.0],
        "k1": [0.6, 0.9, 1.2, 1.6],
        "b": [0.3, 0.5, 0.75, 0.9],
        "title_b": [0.3, 0.5, 0.75],
        "max_gram_df": [0.02, 0.05, 0.08, 0.15, 1.0],
        "max_word_df": [0.05, 0.1, 0.2, 1.0],
    }
    best = service.weights
    best_score = evaluate("tune", qzt_search(service), queries)["nDCG@10"]
    print(f"start {best_score:.4f} {best}")
    for _round in range(2):
        for name, values in grid.items():
            for value in values:
                candidate = dataclasses.replace(best, **{name: value})
                service.weights = candidate
                score = evaluate("tune", qzt_search(service), queries)["nDCG@10"]
                if score > best_score + 1e-4:
                    best, best_score = candidate, score
                    print(f"  {name}={value}: {score:.4f}")
    service.weights = best
    print(f"best on the tuning split: nDCG@10={best_score:.4f}\n  {best}")
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", default=os.path.join(STARD, "corpus.jsonl"))
    p.add_argument("--queries", default=os.path.join(STARD, "queries-train.jsonl"))
    p.add_argument("--qrels", default=os.path.join(STARD, "qrels-train.jsonl"))
    p.add_argument("--laws", nargs="*", default=LAWS)
    p.add_argument("--split", choices=["heldout", "tune", "all"], default="heldout")
    p.add_argument("--systems", default="whoosh-default,whoosh-jieba,qzt,qzt-whoosh-scorer")
    p.add_argument("--rebuild", action="store_true", help="rebuild cached indexes (timed)")
    p.add_argument("--skip-laws", action="store_true")
    p.add_argument("--skip-json", action="store_true")
    p.add_argument("--tune", action="store_true", help="tune Weights on the tuning split")
    args = p.parse_args(argv)
    os.makedirs(CACHE, exist_ok=True)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]

    service, built = qzt_index(args.corpus, args.rebuild)
    if args.tune:
        tune(service, load_queries(args.queries, args.qrels, "tune"))
        print(
            line(
                evaluate(
                    "qzt (tuned)",
                    qzt_search(service),
                    load_queries(args.queries, args.qrels, "heldout"),
                )
            )
        )
        return 0

    queries = load_queries(args.queries, args.qrels, args.split)
    print(f"STARD: {len(queries)} {args.split} queries; weights: {DEFAULT_WEIGHTS}")
    builds = [built] if built else []
    results = []
    for system in systems:
        if system == "qzt":
            qzt_search(service)(queries[0][1])  # open the searcher (as a running portal has)
            results.append(evaluate("qzt", qzt_search(service), queries))
        elif system == "qzt-whoosh-scorer":
            results.append(evaluate(system, qzt_whoosh_scorer(service), queries))
        else:
            ix, info = baseline_index(args.corpus, system, args.rebuild)
            builds.append(info)
            results.append(evaluate(system, baseline_search(ix), queries))
        print(line(results[-1]), flush=True)
    for info in builds:
        print(info)
    if not args.skip_laws:
        print(laws_throughput(args.laws), flush=True)
    if not args.skip_json:
        print(json_latency(service.path, queries), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
