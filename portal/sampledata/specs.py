"""The shapes of the sample content: facts per item, turned into text by :mod:`.bodies`.

Each item carries just the facts that make it specific (what, who, which measures);
the connecting sentences come from templates. That keeps the data modules short
while every page still reads as a plausible, distinct document.
"""

from __future__ import annotations

from typing import NamedTuple

PUBLISHED = "published"
PENDING = "pending"
DRAFT = "draft"


class PolicySpec(NamedTuple):
    """A 涉企政策: what it is for, its measures and who may apply."""

    key: str
    title: str
    dept: str  # department code
    industries: str  # GB/T 4754 section letters, e.g. "CI"
    aim: str  # completes "为…": the purpose
    points: tuple[str, ...]  # the measures, one clause each
    audience: str  # who may apply
    state: str = PUBLISHED


class RegulationSpec(NamedTuple):
    """A 法规公文 with full document metadata."""

    key: str
    title: str
    dept: str  # drafting department; the issuer is derived from the 文号
    doc_number: str
    published: str  # 发布日期, ISO
    topic: str  # 主题分类
    points: tuple[str, ...]  # the substantive articles, without "第N条"
    validity: str = "in_force"
    #: key of the older document this one amends or replaces
    replaces: str | None = None
    #: days between publication and entry into force
    effective_after: int = 30


class NewsSpec(NamedTuple):
    """An item of 行业发展动态 or 企政交流服务动态."""

    key: str
    title: str
    dept: str
    industries: str
    lead: str  # the opening sentence: what happened
    points: tuple[str, ...]  # details, one sentence each
    state: str = PUBLISHED


class InterpretationSpec(NamedTuple):
    """A 政策解读 of one policy, as questions and answers."""

    key: str
    policy: str  # key of the PolicySpec it explains
    background: str
    answers: tuple[tuple[str, str], ...]  # (question, answer)
