"""Chinese analysis: normalisation, words, bigrams, stopwords."""

from __future__ import annotations

from search import analysis


def test_normalise_folds_width_case_and_traditional_characters_keeping_length():
    raw = "ＡＢＣ公司（２０１７）國務院辦公廳關於"
    folded = analysis.normalise(raw)
    assert folded == "abc公司(2017)国务院办公厅关于"
    assert len(folded) == len(raw)  # offsets stay valid for snippets


def test_words_come_in_search_mode_with_sub_words():
    words = analysis.words("个体工商户营业执照")
    assert {"个体", "工商户", "工商", "营业执照", "营业", "执照"} <= set(words)


def test_question_words_are_not_terms():
    words = analysis.words("公司注销怎么办？是否可以如何办理吗")
    assert "注销" in words
    assert "办理" in words
    for noise in ("怎么办", "是否", "可以", "如何", "吗", "？"):
        assert noise not in words


def test_traditional_query_meets_simplified_text():
    assert analysis.words("營業執照") == analysis.words("营业执照")
    assert analysis.bigrams("營業執照") == analysis.bigrams("营业执照")


def test_bigrams_cover_unknown_names_and_keep_latin_runs():
    grams = analysis.bigrams("新质生产力 iPhone15，Ａ股")
    assert grams[:4] == ["新质", "质生", "生产", "产力"]
    assert "iphone15" in grams
    assert "股" in grams
    assert "a" in grams


def test_bigrams_with_offsets_agree_with_the_fast_path():
    text = analysis.normalise("乘坐高铁，发现自己的位置被别人霸占了 ABC 2017年")
    assert [g for g, _s, _e in analysis.bigram_spans(text)] == analysis.bigrams(text)
    for gram, start, end in analysis.bigram_spans(text):
        assert text[start:end] == gram


def test_word_spans_point_into_the_text():
    text = analysis.normalise("劳动合同解除的经济补偿")
    spans = list(analysis.word_spans(text))
    assert ("劳动合同", 0, 4) in spans
    assert all(text[s:e] == w for w, s, e in spans)


def test_join_keeps_fields_apart():
    assert analysis.join(["标题", None, "", "正文"]) == "标题\n正文"
    assert "题正" not in analysis.bigrams(analysis.join(["标题", "正文"]))
