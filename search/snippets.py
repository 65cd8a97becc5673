"""Snippets: the passage of a text that best matches the query, matches marked.

Written here rather than taken from whoosh's highlighter because that one re-analyses
every stored text through the field's analyzer on each page view; this finds the
query's words directly in the normalised text (same offsets as the original, see
search.analysis.normalise) and costs a few string scans per hit.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from search.analysis import normalise


def _matches(haystack: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of every term occurrence; longer terms win."""
    taken: list[tuple[int, int]] = []
    for term in terms:
        start = haystack.find(term)
        while start != -1:
            end = start + len(term)
            if not any(s < end and start < e for s, e in taken):
                taken.append((start, end))
            start = haystack.find(term, end)
    merged: list[tuple[int, int]] = []
    for s, e in sorted(taken):  # 民间|投资 side by side read as one mark: 民间投资
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _best_window(spans: list[tuple[int, int]], length: int, width: int) -> int:
    """Start of the ``width``-character window holding the most matched characters."""
    if not spans:
        return 0
    best_start, best_score = 0, -1
    for anchor, _end in spans:
        start = max(0, min(anchor - width // 5, length - width))
        score = sum(e - s for s, e in spans if s >= start and e <= start + width)
        if score > best_score:
            best_start, best_score = start, score
    return best_start


def snippet(text: str, terms: list[str], width: int = 120) -> Markup:
    """Escaped ``text`` around its best passage, terms wrapped in ``<mark>``."""
    text = " ".join(text.split())  # stored bodies keep line breaks; snippets do not
    spans = _matches(normalise(text), [normalise(t) for t in terms if t])
    start = _best_window(spans, len(text), width)
    end = min(len(text), start + width)
    out: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(escape(text[cursor:s]))
        out.append(Markup("<mark>%s</mark>") % text[s:e])
        cursor = e
    out.append(escape(text[cursor:end]))
    out.append("…" if end < len(text) else "")
    return Markup("").join(out)


def coverage(text: str, terms: list[str]) -> int:
    """How many characters of ``text`` the terms match (to choose a passage's source)."""
    return sum(e - s for s, e in _matches(normalise(text), [normalise(t) for t in terms if t]))


def best_snippet(texts: list[str], terms: list[str], width: int = 120) -> Markup:
    """The snippet of whichever text the terms match most; the first wins ties."""
    candidates = [t for t in texts if t]
    if not candidates:
        return Markup("")
    chosen = max(candidates, key=lambda t: (coverage(t, terms), -candidates.index(t)))
    return snippet(chosen, terms, width)
