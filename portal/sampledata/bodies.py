"""Turn the facts of a sample item into a summary and a short HTML body.

Pure functions: the same facts always give the same text, so seeding is
deterministic. A few template variants per section, picked by the item's position,
keep neighbouring items from reading alike.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from markupsafe import escape

from portal.sampledata.specs import InterpretationSpec, NewsSpec, PolicySpec, RegulationSpec

_NUMERALS = "一二三四五六七八九十"


class Text(NamedTuple):
    summary: str
    body: str


class Context(NamedTuple):
    """What a body may mention about the department behind the item."""

    dept_name: str
    phone: str
    position: int  # of the item in its section: picks the template variant


def numeral(n: int) -> str:
    """Chinese numeral for 1–19 (第一条 … 第十九条): enough for a short sample text."""
    if not 1 <= n <= 19:
        raise ValueError(f"no sample text numbers {n} items")
    return _NUMERALS[n - 1] if n <= 10 else "十" + _NUMERALS[n - 11]


def _html(*paragraphs: str) -> str:
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p)


def _ordinal_list(points: tuple[str, ...]) -> str:
    """一是…；二是…；三是…。"""
    return "；".join(f"{numeral(i)}是{p}" for i, p in enumerate(points, 1)) + "。"


def policy_text(spec: PolicySpec, ctx: Context) -> Text:
    title = f"《{spec.title}》"
    apply = (
        f"符合条件的企业可通过企政通平台在线申报，也可到{ctx.dept_name}服务窗口咨询办理。"
        f"具体申报时间和材料以年度申报通知为准，咨询电话：{ctx.phone}。"
    )
    variant = ctx.position % 3
    if variant == 0:
        opening = f"为{spec.aim}，{ctx.dept_name}会同有关部门研究制定了{title}。"
        body = _html(
            opening,
            "主要措施：" + _ordinal_list(spec.points),
            f"适用对象：{spec.audience}。",
            apply,
        )
    elif variant == 1:
        opening = f"{ctx.dept_name}近日印发{title}，旨在{spec.aim}。"
        measures = "措施明确，" + "；".join(spec.points) + "。"
        body = _html(opening, measures, f"本措施适用于{spec.audience}。{apply}")
    else:
        opening = f"{title}由{ctx.dept_name}负责解释和组织实施，目的是{spec.aim}。"
        middle = [f"（{numeral(i)}）{p}。" for i, p in enumerate(spec.points, 1)]
        body = _html(opening, "".join(middle), f"申报对象为{spec.audience}。", apply)
    summary = f"为{spec.aim}，提出{numeral(len(spec.points))}项支持措施，适用于{spec.audience}。"
    return Text(summary, body)


def issuer_of(doc_number: str, dept_name: str) -> str:
    """发文机关 from the 文号: 江府 is the city government, 江府办 its general office."""
    if doc_number.startswith("江府办"):
        return "江门市人民政府办公室"
    if doc_number.startswith("江府") or "人民政府令" in doc_number:
        return "江门市人民政府"
    return "江门" + dept_name if dept_name.startswith("市") else dept_name


_ISSUING = re.compile(r"关于印发(.+)的通知$")
_KINDS = (
    "实施细则",
    "实施方案",
    "实施意见",
    "办法",
    "规定",
    "细则",
    "措施",
    "方案",
    "指引",
    "清单",
)


def kind_of(title: str) -> str:
    """What a document calls itself in its own articles: 本办法, 本规定 … or 本文件."""
    return next((kind for kind in _KINDS if title.endswith(kind)), "文件")


def regulation_text(spec: RegulationSpec, ctx: Context, effective: str, mayor: str) -> Text:
    issued = _ISSUING.search(spec.title)
    inner = issued.group(1) if issued else spec.title
    purpose = f"第一条　为贯彻落实国家和省有关部署，结合本市实际，制定本{kind_of(inner)}。"
    articles = [f"第{numeral(i)}条　{p}。" for i, p in enumerate(spec.points, 2)]
    if "人民政府令" in spec.doc_number:
        first = f"《{spec.title}》已经市人民政府常务会议审议通过，现予公布，自{effective}起施行。"
        body = _html(first, f"市长　{mayor}", purpose, *articles)
    elif issued:
        first = "各县（市、区）人民政府（管委会），市政府各部门、各直属机构："
        second = (
            f"现将《{inner}》印发给你们，请认真组织实施。"
            f"实施中遇到的问题，请径向{ctx.dept_name}反映。"
        )
        body = _html(first, second, purpose, *articles)
    else:
        first = "各有关单位："
        second = f"为做好{spec.topic}领域相关工作，现就有关事项通知如下："
        items = [f"{numeral(i)}、{p}。" for i, p in enumerate(spec.points, 1)]
        closing = (
            f"本通知自{effective}起施行。执行中的问题请与{ctx.dept_name}联系，电话：{ctx.phone}。"
        )
        body = _html(first, second, *items, closing)
    summary = f"本文件明确：{spec.points[0]}；{spec.points[1]}。"
    return Text(summary, body)


def news_text(spec: NewsSpec, ctx: Context) -> Text:
    first, *rest = spec.points
    if ctx.position % 2 == 0:
        detail = f"据{ctx.dept_name}介绍，{first}。" + "".join(f"{p}。" for p in rest)
        closing = f"下一步，{ctx.dept_name}将持续跟踪有关情况，及时在本平台发布后续信息。"
    else:
        detail = "；".join(spec.points) + "。"
        closing = f"企业如有相关需求，可通过企政通平台联系{ctx.dept_name}，咨询电话：{ctx.phone}。"
    return Text(spec.lead, _html(spec.lead, detail, closing))


def interpretation_text(spec: InterpretationSpec, policy: PolicySpec) -> Text:
    parts = [
        "<p><strong>一、出台背景</strong></p>",
        _html(spec.background),
        "<p><strong>二、主要内容</strong></p>",
        _html(_ordinal_list(policy.points)),
        "<p><strong>三、常见问题</strong></p>",
    ]
    parts += [
        f"<p><strong>问：{escape(q)}</strong><br>答：{escape(a)}</p>" for q, a in spec.answers
    ]
    return Text(spec.background, "".join(parts))


def interpretation_title(policy: PolicySpec) -> str:
    return f"《{policy.title}》政策解读"
