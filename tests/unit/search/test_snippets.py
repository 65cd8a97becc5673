"""Snippets: the best passage, escaped, query words marked."""

from __future__ import annotations

from search import snippets


def test_marks_terms_in_the_original_text_and_escapes_the_rest():
    html = snippets.snippet("<b>小微企业</b>享受所得税優惠", ["小微企业", "优惠"])
    assert html == "&lt;b&gt;<mark>小微企业</mark>&lt;/b&gt;享受所得税<mark>優惠</mark>"


def test_adjacent_terms_read_as_one_mark():
    assert snippets.snippet("鼓励民间投资", ["民间", "投资"]) == "鼓励<mark>民间投资</mark>"


def test_long_text_is_cut_around_the_matches():
    text = "无关内容。" * 100 + "个体工商户可以申请注销登记。" + "其他内容。" * 100
    html = snippets.snippet(text, ["注销"], width=60)
    assert html.startswith("…")
    assert html.endswith("…")
    assert "<mark>注销</mark>" in html
    assert len(html) < 120


def test_the_better_matching_text_is_chosen():
    chosen = snippets.best_snippet(["摘要没有关键词", "正文讲注销登记"], ["注销"])
    assert "<mark>注销</mark>" in chosen
    assert snippets.best_snippet(["", ""], ["注销"]) == ""
