"""Sample texts: deterministic, escaped, and shaped like the documents they imitate."""

from __future__ import annotations

import pytest

from portal.sampledata import bodies
from portal.sampledata.bodies import Context
from portal.sampledata.news import INDUSTRY_NEWS
from portal.sampledata.policies import INTERPRETATIONS, POLICIES
from portal.sampledata.regulations import REGULATIONS
from portal.sampledata.specs import NewsSpec

CTX = Context("市发展和改革局", "0750-3310000", 0)


@pytest.mark.parametrize(("n", "text"), [(1, "一"), (10, "十"), (11, "十一"), (19, "十九")])
def test_numerals(n, text):
    assert bodies.numeral(n) == text


def test_numerals_out_of_range_are_refused():
    with pytest.raises(ValueError, match="20"):
        bodies.numeral(20)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_policy_text_varies_by_position_and_names_the_facts(index):
    spec = POLICIES[0]
    text = bodies.policy_text(spec, CTX._replace(position=index))
    assert text.body.startswith("<p>")
    assert text.body.count("<p>") >= 3
    assert spec.points[0] in text.body
    assert "0750-3310000" in text.body
    assert spec.aim in text.summary
    assert text == bodies.policy_text(spec, CTX._replace(position=index))  # deterministic


def test_policy_variants_differ():
    spec = POLICIES[0]
    texts = {bodies.policy_text(spec, CTX._replace(position=i)).body for i in range(3)}
    assert len(texts) == 3


def test_news_text_escapes_markup():
    spec = NewsSpec("x", "标题", "fgj", "C", "<b>开头</b>。", ("甲 & 乙", "丙", "丁"))
    text = bodies.news_text(spec, CTX)
    assert "<b>" not in text.body
    assert "&lt;b&gt;" in text.body
    assert "&amp;" in text.body


def test_regulation_text_follows_the_document_kind():
    by_key = {r.key: r for r in REGULATIONS}
    decree = bodies.regulation_text(by_key["gov-investment"], CTX, "2025年5月12日", "林志远")
    assert "现予公布，自2025年5月12日起施行" in decree.body
    assert "市长　林志远" in decree.body
    assert "制定本办法。</p><p>第二条　" in decree.body
    issued = bodies.regulation_text(by_key["private-2025"], CTX, "2025年9月8日", "林志远")
    assert "现将《江门市促进民营经济高质量发展若干措施》印发给你们" in issued.body
    assert "第二条　" in issued.body
    notice = bodies.regulation_text(by_key["hazchem"], CTX, "2025年1月6日", "林志远")
    assert notice.body.startswith("<p>各有关单位：</p>")
    assert "一、" in notice.body


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("江门市优化营商环境若干规定", "规定"),
        ("建筑工程施工许可实施细则", "实施细则"),
        ("某某通知", "文件"),
    ],
)
def test_a_document_names_its_own_kind(title, kind):
    assert bodies.kind_of(title) == kind


@pytest.mark.parametrize(
    ("number", "issuer"),
    [
        ("江府〔2025〕12号", "江门市人民政府"),
        ("江门市人民政府令第13号", "江门市人民政府"),
        ("江府办〔2025〕21号", "江门市人民政府办公室"),
        ("江府办函〔2026〕3号", "江门市人民政府办公室"),
        ("江发改规〔2025〕2号", "江门市发展和改革局"),
    ],
)
def test_issuer_follows_the_document_number(number, issuer):
    assert bodies.issuer_of(number, "市发展和改革局") == issuer


def test_interpretation_is_questions_and_answers_about_its_policy():
    spec = INTERPRETATIONS[0]
    policy = next(p for p in POLICIES if p.key == spec.policy)
    text = bodies.interpretation_text(spec, policy)
    assert bodies.interpretation_title(policy) == f"《{policy.title}》政策解读"
    assert text.body.count("<strong>问：") == len(spec.answers)
    assert policy.points[0] in text.body


def test_every_sample_item_renders():
    for index, spec in enumerate(POLICIES):
        assert bodies.policy_text(spec, CTX._replace(position=index)).summary
    for index, news in enumerate(INDUSTRY_NEWS):
        assert bodies.news_text(news, CTX._replace(position=index)).body
    for reg in REGULATIONS:
        assert bodies.regulation_text(reg, CTX, "2025年1月1日", "林志远").summary
