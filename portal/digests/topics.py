"""Recurring topics: the words many of a week's cases share.

Segmentation is ``rjieba`` (jieba's dictionary and HMM, the Rust port the search
index already uses; a runtime dependency). Not jieba's own ``extract_tags``: its
IDF table is computed from general news text, where 营业执照 or 欠薪 are rare and
so would score high in every week. Here the weight comes from the cases
themselves: a word counts once per case (document frequency), scaled by an IDF
over this week and the week before, so words every complaint contains (企业,
问题, 反映 …, and the stoplist) sink and what this week's cases have in common
rises. ``prev`` (the same word's case count last week) gives the trend.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import rjieba

from search.analysis import STOPWORDS

#: words every case uses: they say nothing about what this week's cases are about
_GENERIC_WORDS = """
    企业 公司 我司 我们 本人 你们 他们 相关 部门 问题 情况 反映 要求 希望 请求 诉求 申请 办理
    处理 解决 尽快 协调 帮助 咨询 投诉 举报 建议 求助 政府 单位 工作 方面 进行 没有 目前 现在
    已经 一直 多次 导致 造成 影响 是否 能否 可以 需要 如何 怎么 什么 为什么 这个 那个 这些 那些
    一个 一些 有关 关于 对于 根据 按照 以及 并且 但是 因为 所以 如果 或者 还是 其中 之后 之前
    以来 期间 近期 最近 今年 去年 本月 上月 日前 时间 市民 群众 情况 事项 材料 回复 答复 联系
    电话 地址 江门 江门市 蓬江 蓬江区 新会 台山 开平 鹤山 恩平 江海 江海区 区域 地区 附近
"""
GENERIC = frozenset(_GENERIC_WORDS.split())
_WORDLIKE = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_NUMBERISH = re.compile(r"^[\d.,%０-９年月日号第个元万亿]+$")


@dataclass(frozen=True)
class Topic:
    word: str
    cases: int  # this week's cases that use it
    prev: int  # last week's
    score: float

    @property
    def trend(self) -> int:
        return self.cases - self.prev


def keep(word: str) -> bool:
    """A word worth reporting: two characters or more, not a stopword, not generic,
    not a number or a date."""
    return (
        len(word) >= 2
        and word not in STOPWORDS
        and word not in GENERIC
        and bool(_WORDLIKE.search(word))
        and not _NUMBERISH.match(word)
    )


def words(text: str) -> set[str]:
    return {w for w in rjieba.cut(text) if keep(w)}


def document_frequency(texts: Iterable[str]) -> tuple[Counter[str], int]:
    """In how many texts each word occurs. Counting runs in C (a set per text into a
    Counter); the filter then looks at each distinct word once, not at every token."""
    counts: Counter[str] = Counter()
    n = 0
    for text in texts:
        counts.update(set(rjieba.cut(text)))
        n += 1
    return Counter({w: c for w, c in counts.items() if keep(w)}), n


def recurring(
    this_week: Iterable[str], last_week: Iterable[str], *, top: int = 12, min_cases: int = 2
) -> list[Topic]:
    """The ``top`` words of this week's cases that at least ``min_cases`` share."""
    now, n_now = document_frequency(this_week)
    before, n_before = document_frequency(last_week)
    total = n_now + n_before
    found = []
    for word, df in now.items():
        if df < min_cases:
            continue
        idf = math.log((total + 1) / (df + before[word] + 1)) + 1
        found.append(Topic(word, df, before[word], df * idf))
    found.sort(key=lambda t: (-t.score, -t.cases, t.word))
    return found[:top]
