"""Chinese text analysis: normalisation, words, character bigrams, stopwords.

Pure functions, no index involved, so they are tested on their own and shared by
indexing and querying (the same text must become the same terms on both sides).

Two views of every text are indexed:

* **words**: jieba's search-mode segmentation (the Rust port ``rjieba``, which gives
  the same tokens as ``jieba.lcut_for_search`` about 25 times faster; measured in
  docs/search.md). Search mode emits both 营业执照 and 营业/执照, so a query for
  either finds the document. Words carry precision.
* **grams**: overlapping character bigrams of every run of Chinese characters. They
  match partial words and names jieba's dictionary does not know (新质生产力,
  a company name), which words alone would miss. Grams carry recall.

Normalisation maps each character to exactly one character (full-width → half-width,
traditional → simplified, upper → lower case), so offsets in the normalised text are
offsets in the original: snippets highlight the original text without re-aligning.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import rjieba

#: Words that only shape a question or a sentence. Removed from both documents and
#: queries so that 怎么/吗/是否 in "公司怎么注销吗" cannot outweigh 注销.
STOPWORDS: frozenset[str] = frozenset(
    [
        "的",
        "地",
        "得",
        "了",
        "着",
        "过",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "嘛",
        "哦",
        "哪",
        "么",
        "之",
        "其",
        "而",
        "且",
        "则",
        "即",
        "亦",
        "乃",
        "也",
        "还",
        "又",
        "就",
        "都",
        "才",
        "是",
        "在",
        "有",
        "和",
        "与",
        "及",
        "或",
        "等",
        "把",
        "被",
        "将",
        "对",
        "向",
        "从",
        "由",
        "于",
        "为",
        "以",
        "因",
        "所",
        "这",
        "那",
        "此",
        "该",
        "各",
        "每",
        "某",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "她们",
        "自己",
        "本人",
        "别人",
        "人家",
        "咱们",
        "请问",
        "问",
        "想",
        "想问",
        "想知道",
        "知道",
        "请",
        "谢谢",
        "您好",
        "你好",
        "如题",
        "急",
        "急急",
        "怎么",
        "怎么样",
        "怎样",
        "怎么办",
        "怎么回事",
        "如何",
        "什么",
        "什么样",
        "为什么",
        "为何",
        "哪些",
        "哪个",
        "哪里",
        "多少",
        "多久",
        "几",
        "几个",
        "是否",
        "是不是",
        "有没有",
        "能否",
        "能不能",
        "可不可以",
        "可以",
        "可否",
        "会不会",
        "要不要",
        "应该",
        "应当",
        "需要",
        "必须",
        "一定",
        "还是",
        "或者",
        "以及",
        "如果",
        "假如",
        "要是",
        "但是",
        "可是",
        "然后",
        "所以",
        "因为",
        "因此",
        "那么",
        "这样",
        "那样",
        "这个",
        "那个",
        "这些",
        "那些",
        "一个",
        "一下",
        "有关",
        "关于",
        "相关",
        "情况",
        "问题",
        "规定",
        "？",
        "?",
    ]
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_ALNUM_RUN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
_TERM_CHARS = re.compile(f"[{_CJK}a-z0-9]")


def _load_t2s() -> dict[int, int]:
    """Traditional → simplified, character by character, from OpenCC's table.

    Only one-to-one pairs are kept (the first simplified candidate): phrase-level
    conversion would change lengths, and search needs matching, not typesetting.
    """
    import opencc  # opencc-python-reimplemented ships the dictionaries as text

    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
    table: dict[int, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            source, _, targets = line.rstrip("\n").partition("\t")
            target = targets.split(" ")[0] if targets else ""
            if len(source) == 1 and len(target) == 1 and source != target:
                table[ord(source)] = ord(target)
    return table


@lru_cache(maxsize=1)
def _table() -> dict[int, int]:
    table = _load_t2s()
    # Full-width ASCII (！ to ～) → ASCII; ideographic space → space.
    table.update({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})
    table[0x3000] = 0x20
    table.update({code: code + 32 for code in range(ord("A"), ord("Z") + 1)})
    # After full-width folding ＡＢＣ became ABC: fold those to lower case too.
    for code in range(0xFF21, 0xFF3B):
        table[code] = code - 0xFEE0 + 32
    return table


def normalise(text: str) -> str:
    """Full-width → half-width, traditional → simplified, lower case; same length."""
    return text.translate(_table())


@lru_cache(maxsize=200_000)
def is_term(token: str) -> bool:
    """Worth indexing: has a letter, digit or Chinese character, and is no stopword.
    (Cached: the same few hundred thousand words recur across a corpus.)"""
    return bool(_TERM_CHARS.search(token)) and token not in STOPWORDS


# Indexing analyses each text twice (words, then bigrams): normalise it once.
_normalised = lru_cache(maxsize=4)(normalise)


def words(text: str) -> list[str]:
    """Search-mode jieba words of ``text`` (normalised first), stopwords removed."""
    return [w for w in rjieba.cut_for_search(_normalised(text)) if is_term(w)]


def word_spans(normalised: str) -> Iterator[tuple[str, int, int]]:
    """Words with their character offsets in already-normalised text."""
    for word, start, end in rjieba.tokenize(normalised, "search"):
        if is_term(word):
            yield word, start, end


def bigram_spans(normalised: str) -> Iterator[tuple[str, int, int]]:
    """Overlapping bigrams of Chinese runs (a lone character stands for itself),
    and whole latin/digit runs, with offsets, from already-normalised text."""
    for match in _CJK_RUN.finditer(normalised):
        run, base = match.group(), match.start()
        if len(run) == 1:
            if run not in STOPWORDS:
                yield run, base, base + 1
            continue
        for i in range(len(run) - 1):
            gram = run[i : i + 2]
            if gram not in STOPWORDS:
                yield gram, base + i, base + i + 2
    for match in _ALNUM_RUN.finditer(normalised):
        yield match.group(), match.start(), match.end()


def bigrams(text: str) -> list[str]:
    """The terms of :func:`bigram_spans`, without offsets (the indexing hot path)."""
    normalised = _normalised(text)
    grams: list[str] = []
    for run in _CJK_RUN.findall(normalised):
        if len(run) == 1:
            grams.append(run)
        else:
            grams.extend([run[i : i + 2] for i in range(len(run) - 1)])
    grams.extend(_ALNUM_RUN.findall(normalised))
    return [g for g in grams if g not in STOPWORDS]


def join(parts: Iterable[str | None]) -> str:
    """Several fields as one text, separated so no bigram spans two of them."""
    return "\n".join(p for p in parts if p)
