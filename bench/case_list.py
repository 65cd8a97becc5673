"""The case list at a million cases: each role's scope, with and without a search.

    python bench/digest.py           # once: builds the bench_digest database (1,000,000 cases)
    python bench/case_list.py        # then this, read-only over it
    python bench/case_list.py --runs 9

What it times: :func:`portal.complaints.queries.listing` (the count and the first page
of 20, as ``/cases`` runs it) for a department's staff (lead, 协办 or 首问 of one
department), a 分管领导 of the sample city (their departments), and the mayor or the
dispatch desk (every case); each plain, searching a word, and searching a case
number. The baseline beside each figure is the same page with no scope at all
(``everything``): what the scope's condition costs is the difference.

Each figure is the median wall time of ``--runs`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
PAGE = 20


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = fn()
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_digest"
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import portal.models  # noqa: F401
    from portal.complaints.models import Case
    from portal.complaints.queries import CaseFilter, listing
    from portal.complaints.scope import CaseScope
    from portal.db import make_engine, make_session_factory
    from portal.departments.models import Department, Leader

    engine = make_engine({"sqlalchemy.url": args.url})
    session = make_session_factory(engine)()
    total = session.scalar(select(func.count()).select_from(Case))
    if not total:
        print("no cases: run bench/digest.py first")
        return 1
    # The department with most cases, and the leader supervising most departments.
    busiest = session.execute(
        select(Case.department_id, func.count())
        .where(Case.department_id.is_not(None))
        .group_by(Case.department_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()[0]
    leader = max(session.scalars(select(Leader)), key=lambda lead: len(lead.departments))
    number = session.scalar(select(Case).where(Case.department_id == busiest).limit(1)).number
    scopes = {
        "staff": CaseScope(department_ids=frozenset({busiest})),
        "leader": CaseScope(department_ids=frozenset(d.id for d in leader.departments)),
        "everything": CaseScope(everything=True),
    }
    searches = {"plain": "", "word": "停电", "number": number}
    dept = session.get(Department, busiest)
    print(
        f"{total:,} cases; staff of {dept.short_name if dept else busiest}; leader {leader.name} "
        f"({len(leader.departments)} departments); median of {args.runs} runs; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for search_name, q in searches.items():
        flt = CaseFilter(q=q)
        base_s, _base = timed(
            lambda f=flt: listing(session, scopes["everything"], f, 1, PAGE, NOW), args.runs
        )
        for scope_name, scope in scopes.items():
            took, page = timed(
                lambda s=scope, f=flt: listing(session, s, f, 1, PAGE, NOW), args.runs
            )
            print(
                f"{scope_name:10s} search={search_name:6s} list_s={took:.3f} "
                f"(baseline no scope {base_s:.3f})  matches={page.total:,}"
            )
        session.rollback()
    session.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
