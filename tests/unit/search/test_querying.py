"""Parsing what people type: never an exception, a notice for what was ignored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search import querying
from search.interfaces import Query

W = querying.DEFAULT_WEIGHTS


def test_phrases_exclusions_and_doc_numbers_are_separated():
    parsed = querying.parse('"营业执照" 注销 -分公司 国办发(2017)47号', 200)
    assert parsed.phrases == ["营业执照"]
    assert parsed.excluded == ["分公司"]
    assert [n.key() for n in parsed.doc_numbers] == ["国办发〔2017〕47号"]
    assert "注销" in parsed.text
    assert "分公司" not in parsed.text
    assert parsed.notices == []


def test_curly_quotes_count_as_quotes_and_an_odd_one_is_dropped():
    assert querying.parse("“营业执照”", 200).phrases == ["营业执照"]
    odd = querying.parse('"营业执照 注销', 200)
    assert odd.phrases == []
    assert odd.notices == [querying.UNBALANCED_QUOTE]
    assert "营业执照" in odd.text


def test_long_input_is_cut_and_said_so():
    parsed = querying.parse("税" * 500, 200)
    assert len(parsed.text) == 200
    assert parsed.notices == [querying.TRUNCATED]


@pytest.mark.parametrize("raw", ["", "   ", "怎么 如何 是否 吗", "AND OR NOT", "*?:^~", '""'])
def test_nothing_to_search_gives_no_plan(raw):
    parsed = querying.parse(raw, 200)
    assert parsed.empty
    assert querying.build(Query(text=raw), parsed, W) is None


@given(st.text(max_size=300))
def test_any_input_parses_and_builds(raw):
    parsed = querying.parse(raw, 200)
    plan = querying.build(Query(text=raw), parsed, W)
    assert plan is None or plan.terms or plan.required is not None


def test_ranking_weights_title_and_body_words_and_grams():
    every_field = querying.Weights(title=2.0, body=1.0, title_grams=1.0, grams=0.5)
    terms = querying.ranking("营业执照", every_field)
    assert {f for f, _t, _b in terms} == {"title", "body", "title_grams", "grams"}
    assert ("title", "营业执照", 2.0) in terms
    assert ("grams", "执照", 0.5) in terms
    # a field weighted 0 is not queried at all
    no_title_grams = querying.ranking("营业执照", querying.Weights(title_grams=0.0))
    assert "title_grams" not in {f for f, _t, _b in no_title_grams}


def test_common_terms_are_dropped_unless_nothing_else_is_left():
    share = {"营业": 0.5, "执照": 0.01}

    def df(field: str, term: str) -> float:
        return share.get(term, 0.5)

    limited = querying.Weights(max_gram_df=0.1, max_word_df=0.1)
    grams = {t for f, t, _b in querying.ranking("营业执照", limited, df) if f == "grams"}
    assert grams == {"执照"}
    everything_common = {t for f, t, _b in querying.ranking("营业", limited, df) if f == "grams"}
    assert everything_common == {"营业"}


def test_an_exact_doc_number_outweighs_a_shared_suffix():
    terms = querying.doc_number_terms(querying.parse("国办发〔2017〕47号", 200).doc_numbers, W)
    boosts = {t: b for _f, t, b in terms}
    assert boosts["国办发〔2017〕47号"] > boosts["办发〔2017〕47号"]


def test_filters_always_carry_the_acl():
    flt = querying.filters(Query(principals=("system.Everyone", "dept:3"), section="policy"))
    text = repr(flt)
    assert "dept:3" in text
    assert "policy" in text
