"""The term-association model: learned from labelled pairs, saved, loaded, and used
by the service to find statute wording for layperson words."""

from __future__ import annotations

import json

import pytest

from search import make_service, termmodel
from search.interfaces import Document, Query
from search.querying import DEFAULT_WEIGHTS, TERM_MODEL_WEIGHTS, Weights
from search.whoosh_backend import WhooshSearchService

WAGES = (
    "劳动合同法第三十条",
    "用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。",
)
DISMISSAL = (
    "劳动合同法第四十八条",
    "用人单位违反本法规定解除劳动合同，劳动者要求继续履行的，应当继续履行。",
)
TRADEMARK = (
    "商标法第五十七条",
    "未经商标注册人的许可，在同一种商品上使用与其注册商标相同的商标的。",
)
OTHER = [
    ("道路交通安全法第五十一条", "机动车行驶时，驾驶人、乘坐人员应当按规定使用安全带。"),
    ("森林法第二十条", "国有林业企业事业单位、机关、团体、部队营造的林木，由营造单位管护。"),
    ("种子法第三条", "国务院农业农村、林业草原主管部门分别主管全国农作物种子和林木种子工作。"),
]
CORPUS = [WAGES, DISMISSAL, TRADEMARK, *OTHER]
PAIRS = [
    termmodel.Pair("老板拖着不给钱怎么办", [WAGES]),
    termmodel.Pair("老板把我开了还不给钱", [WAGES, DISMISSAL]),
    termmodel.Pair("别人用了我家牌子的名字", [TRADEMARK]),
]


@pytest.fixture
def model() -> termmodel.TermModel:
    return termmodel.learn(PAIRS, termmodel.corpus_shares(CORPUS), about="test")


def test_layperson_words_learn_the_statute_words_and_law_names(model):
    boss = {(field, term) for field, term, _s in model.table["w:老板"]}
    assert ("body", "劳动报酬") in boss
    assert ("grams", "报酬") in boss
    assert ("title", "合同法") in boss
    # article numbers are never learned: they name an article, not a vocabulary
    assert not {t for f, t in boss if f == "title" and t.startswith("第")}
    # scores are best first
    scores = [s for _f, _t, s in model.table["w:老板"]]
    assert scores == sorted(scores, reverse=True)


def test_a_term_as_common_as_everywhere_is_not_associated():
    # 用人单位 is in the answer, but also in every document: nothing to learn
    everywhere = termmodel.learn(PAIRS[:1], lambda field, term: 1.0)
    assert everywhere.table == {}


def test_expansion_scales_to_the_weights_and_keeps_the_best(model):
    weights = Weights(expansion=2.0, expansion_grams=0.5, expansion_titles=1.0, expansion_terms=5)
    terms = model.expand("老板不给钱", weights)
    assert len(terms) == 5
    assert max(b for _f, _t, b in terms) == pytest.approx(
        {"body": 2.0, "grams": 0.5, "title": 1.0}[terms[0][0]]
    )
    assert model.expand("完全无关的话", weights) == []
    no_titles = model.expand("老板", Weights(expansion_titles=0.0))
    assert no_titles
    assert all(field != "title" for field, _t, _b in no_titles)


@pytest.mark.parametrize("name", ["model.json", "model.json.gz"])
def test_a_saved_model_loads_the_same(model, tmp_path, name):
    path = str(tmp_path / name)
    model.save(path)
    loaded = termmodel.TermModel.load(path)
    assert loaded.about == "test"
    assert loaded.table.keys() == model.table.keys()
    before, after = model.expand("老板不给钱", Weights()), loaded.expand("老板不给钱", Weights())
    assert [(f, t) for f, t, _b in after] == [(f, t) for f, t, _b in before]
    assert [b for _f, _t, b in after] == pytest.approx([b for _f, _t, b in before], rel=1e-4)


def test_another_file_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"format": "something else", "terms": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="qzt-term-model"):
        termmodel.TermModel.load(str(path))


def _index(path: str, model: termmodel.TermModel | None) -> WhooshSearchService:
    service = WhooshSearchService(path, term_model=model)
    with service.batch() as batch:
        for n, (title, body) in enumerate(CORPUS):
            batch.upsert(Document(id=f"art:{n}", title=title, body=body, url=""))
    return service


def test_the_service_finds_statute_wording_for_layperson_words(model, tmp_path):
    question = Query(text="老板一直不给钱", facets=False)
    plain = _index(str(tmp_path / "index"), None)
    assert plain.search(question).hits == []  # not one word in common
    plain.term_model = model
    hits = plain.search(question).hits
    # the article on paying wages, then the other one "老板" and "不给钱" were asked
    # about; the trademark article shares nothing with those questions
    assert [h.id for h in hits[:2]] == ["art:0", "art:1"]
    assert "art:2" not in {h.id for h in hits}


def test_make_service_loads_a_model_file(model, tmp_path):
    path = str(tmp_path / "terms.json.gz")
    model.save(path)
    service = make_service("whoosh", str(tmp_path / "index"), term_model=path)
    assert isinstance(service, WhooshSearchService)
    assert service.term_model is not None
    assert len(service.term_model) == len(model)
    assert service.weights == TERM_MODEL_WEIGHTS  # tuned with a model in the loop
    plain = make_service("whoosh", str(tmp_path / "index2"))
    assert isinstance(plain, WhooshSearchService)
    assert plain.term_model is None
    assert plain.weights == DEFAULT_WEIGHTS


def test_the_builder_learns_only_from_the_tuning_split(tmp_path):
    def write(name: str, rows: list[dict[str, object]]) -> str:
        path = tmp_path / name
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
        return str(path)

    corpus = write(
        "corpus.jsonl",
        [{"id": f"a{n}", "title": t, "body": b} for n, (t, b) in enumerate(CORPUS)],
    )
    queries = write(
        "queries.jsonl",
        [{"id": "1", "text": "老板不给钱"}, {"id": "3", "text": "牌子被别人用了"}],
    )
    qrels = write(
        "qrels.jsonl",
        [
            {"query_id": "1", "doc_id": "a0", "relevance": 1},
            {"query_id": "3", "doc_id": "a2", "relevance": 1},
        ],
    )
    out = str(tmp_path / "terms.json")
    args = ["--corpus", corpus, "--queries", queries, "--qrels", qrels, "--out", out]
    assert termmodel.main(args) == 0
    tuned = termmodel.TermModel.load(out)
    assert "w:老板" in tuned.table
    assert "w:牌子" not in tuned.table  # question 3 is held out (3 % 3 == 0)
    assert termmodel.main([*args, "--split", "all"]) == 0
    assert "w:牌子" in termmodel.TermModel.load(out).table
