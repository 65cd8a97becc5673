"""BM25 over posting arrays: the formula, per term and per field, summed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search.interfaces import Document
from search.whoosh_backend import WhooshSearchService

BODIES = ["劳动 报酬 报酬", "劳动 合同", "商标 注册 商标 商标"]


@pytest.fixture
def snapshot(tmp_path):
    service = WhooshSearchService(str(tmp_path / "index"))
    with service.batch() as batch:
        for n, body in enumerate(BODIES):
            batch.upsert(Document(id=f"d{n}", title="", body=body, url=""))
    return service._reader().snapshot


def bm25(tf: float, df: int, length: float, avg: float, k1: float, b: float) -> float:
    idf = math.log(1 + (len(BODIES) - df + 0.5) / (df + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))


def test_one_term_scores_by_the_formula(snapshot):
    scores = snapshot.score([("body", "报酬", 2.0)], 1.2, {}, 0.75)
    avg = snapshot.avg_length["body"]
    assert scores[0] == pytest.approx(2.0 * bm25(2, 1, 3, avg, 1.2, 0.75), rel=1e-5)
    assert scores[1] == scores[2] == 0


def test_terms_and_fields_add_up(snapshot):
    terms = [("body", "劳动", 1.0), ("body", "报酬", 0.5), ("grams", "商标", 1.5)]
    together = snapshot.score(terms, 1.6, {"grams": 0.3}, 0.75)
    apart = sum(snapshot.score([t], 1.6, {"grams": 0.3}, 0.75) for t in terms)
    assert np.allclose(together, apart)
    # the same term twice counts twice (an expansion may repeat a question's term)
    twice = snapshot.score([("body", "劳动", 1.0)] * 2, 1.6, {}, 0.75)
    assert np.allclose(twice, 2 * snapshot.score([("body", "劳动", 1.0)], 1.6, {}, 0.75))
    assert not snapshot.score([("body", "不存在", 1.0)], 1.6, {}, 0.75).any()
