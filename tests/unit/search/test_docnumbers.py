"""文号: every typed form finds the same key; agencies are matched by their tails."""

from __future__ import annotations

import pytest

from portal.content.text import normalise_doc_number
from search import docnumbers

FORMS = [
    "国办发〔2017〕47号",
    "国办发[2017]47号",
    "国办发(2017)47号",
    "国办发（2017）47号",
    "国办发【2017】47号",
    "国办发2017年47号",
    "国办发〔2017〕047号",
    "国办发 ( 2017 ) 47 号",
    "国办发［２０１７］４７号",
]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_has_the_official_key(form):
    assert docnumbers.normalise(form) == "国办发〔2017〕47号"


@pytest.mark.parametrize("form", FORMS[:6])
def test_search_and_the_portal_column_agree(form):
    assert docnumbers.normalise(form) == normalise_doc_number(form)


def test_numbers_are_found_inside_a_question():
    found = docnumbers.find("请问国办发〔2017〕47号和粤府办[2019]3号还有效吗")
    # Where the agency starts is unknown in free text; its tails include the real one.
    assert [n.key() for n in found] == ["请问国办发〔2017〕47号", "和粤府办〔2019〕3号"]
    assert "国办发〔2017〕47号" in found[0].candidate_keys()
    assert "粤府办〔2019〕3号" in found[1].candidate_keys()


def test_orders_without_a_year():
    (number,) = docnumbers.find("根据中华人民共和国国务院令第300号")
    assert number.year is None
    assert number.serial == 300
    assert "国务院令第300号" in number.candidate_keys()


def test_strip_leaves_the_words():
    assert docnumbers.without_numbers("国办发〔2017〕47号 民间投资").split() == ["民间投资"]


def test_text_without_a_number_is_left_alone():
    assert docnumbers.find("关于支持小微企业发展的意见") == []
    assert docnumbers.normalise("  自定 编号 ") == "自定编号"
