"""Pure text helpers for content: HTML sanitising and 文号 normalisation."""

from __future__ import annotations

import nh3

from search import docnumbers

# Rich text from editors and importers may only use document structure: no
# scripts, styles, event handlers, iframes or forms. Links get rel=noopener.
ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "sub", "sup",
    "ul", "ol", "li", "blockquote", "table", "thead", "tbody", "tr", "th", "td",
    "a", "img", "hr", "span", "div", "pre", "code",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def plain_to_html(text: str) -> str:
    """Paragraphs from plain text (imported statutes), escaped."""
    from markupsafe import escape

    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def normalise_doc_number(raw: str) -> str:
    """One key for every way a 文号 is typed.

    国办发〔2017〕47号 = 国办发[2017]47号 = 国办发2017年47号 → 国办发〔2017〕47号.
    The rule lives in ``search.docnumbers`` (a pure module that knows no domain), so
    the column the portal stores and the terms the index holds can never disagree.
    """
    return docnumbers.normalise(raw)
