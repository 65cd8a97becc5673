"""文号 normalisation and HTML sanitising."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.content.text import normalise_doc_number, plain_to_html, sanitise_html


@pytest.mark.parametrize(
    "typed",
    [
        "国办发〔2017〕47号",
        "国办发[2017]47号",
        "国办发(2017)47号",
        "国办发（2017）47号",
        "国办发【2017】47号",
        "国办发2017年47号",
        "国办发〔2017〕047号",
        " 国办发 [ 2017 ] 47号 ",
        "国办发［２０１７］４７号",
    ],
)
def test_every_way_of_typing_a_doc_number_has_one_key(typed):
    assert normalise_doc_number(typed) == "国办发〔2017〕47号"


def test_doc_numbers_without_a_year_are_kept():
    assert normalise_doc_number("中华人民共和国国务院令第300号") == "中华人民共和国国务院令第300号"


@given(
    agency=st.sampled_from(["国办发", "江府", "江府办函", "粤府", "法释"]),
    year=st.integers(1990, 2030),
    number=st.integers(1, 999),
    style=st.sampled_from(["〔{y}〕", "[{y}]", "({y})", "（{y}）", "{y}年"]),
)
def test_normalisation_is_idempotent_and_style_free(agency, year, number, style):
    typed = agency + style.format(y=year) + f"{number}号"
    key = normalise_doc_number(typed)
    assert key == f"{agency}〔{year}〕{number}号"
    assert normalise_doc_number(key) == key


def test_sanitiser_drops_scripts_handlers_and_javascript_urls():
    dirty = (
        '<p onclick="x()">正文<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">链接</a><iframe src="//evil"></iframe>'
        '<img src="x" onerror="alert(1)"><style>p{}</style>'
    )
    clean = sanitise_html(dirty)
    for bad in ("script", "onclick", "javascript:", "iframe", "onerror", "<style"):
        assert bad not in clean
    assert "<p>正文</p>" in clean


def test_sanitiser_keeps_document_structure():
    html = '<h2>第一章</h2><table><tr><td colspan="2">表</td></tr></table><a href="https://www.gov.cn/">国务院</a>'
    clean = sanitise_html(html)
    assert "<h2>第一章</h2>" in clean
    assert 'colspan="2"' in clean
    assert 'rel="noopener noreferrer"' in clean


def test_plain_text_becomes_escaped_paragraphs():
    assert plain_to_html("第一条 <b>\n\n第二条") == "<p>第一条 &lt;b&gt;</p><p>第二条</p>"
