"""Recurring topics: words several of the week's cases share, generic ones left out."""

from __future__ import annotations

from portal.digests.topics import recurring, words


def test_words_drop_stopwords_generic_complaint_vocabulary_and_numbers():
    found = words("我公司反映：2026年3月营业执照变更审批时限过长，希望相关部门尽快解决问题。")
    assert {"营业执照", "变更", "审批"} <= found
    assert not found & {"公司", "反映", "希望", "相关", "部门", "尽快", "解决", "问题", "2026"}


def test_recurring_topics_are_shared_by_several_cases_and_show_their_trend():
    this_week = [
        "厂区周边道路施工噪音扰民",
        "夜间施工噪音影响员工休息",
        "工地施工噪音持续到凌晨",
        "拖欠工资三个月未发放",
        "拖欠工资问题请求处理",
        "营业执照办理进度咨询",
    ]
    last_week = ["拖欠工资", "拖欠工资", "拖欠工资", "社保缴费基数咨询"]
    topics = recurring(this_week, last_week, top=5)
    by_word = {t.word: t for t in topics}
    assert by_word["施工"].cases == 3
    assert by_word["噪音"].cases == 3
    assert (by_word["拖欠工资"].cases, by_word["拖欠工资"].prev, by_word["拖欠工资"].trend) == (
        2,
        3,
        -1,
    )
    assert "营业执照" not in by_word  # one case only: not recurring
    # a word new this week outranks one as frequent that was there before
    assert topics.index(by_word["噪音"]) < topics.index(by_word["拖欠工资"])


def test_no_cases_no_topics():
    assert recurring([], []) == []
