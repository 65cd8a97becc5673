"""Digests as mail: subject, plain text and HTML from Jinja2 templates.

The mail is rendered outside any request (by the scheduler or ``qzt digest``), so
this module has its own Jinja2 environment over ``portal/templates`` and translates
through the same gettext catalog as the pages (``_()`` with English msgids), in the
portal's default language. HTML mail is styled inline and laid out in tables, the
only CSS ordinary mail clients (Outlook included) render; charts are table cells
whose width is the value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import jinja2
from pyramid.i18n import make_localizer

from portal.clock import local
from portal.complaints.notify import KIND_LABELS
from portal.complaints.services import RATING_LEVELS
from portal.digests.content import DailyDigest, WeeklyDigest
from portal.i18n import N_, _

DAILY_SUBJECT = N_("${site} daily digest ${date}: ${new} new, ${overdue} overdue")
EMPTY_SUBJECT = N_("${site} daily digest ${date}: nothing new")
WEEKLY_SUBJECT = N_(
    "${site} weekly summary ${first} to ${last}: ${received} received, ${rate} closed on time"
)
LATE = N_("${subject} (sent late)")
COPY = N_("[Copy] ${subject}")

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")
LOCALE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "locale")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Catalog:
    env: jinja2.Environment
    translate: Callable[..., str]


@lru_cache(maxsize=4)
def _catalog(locale: str) -> Catalog:
    localizer = make_localizer(locale, [LOCALE_DIR])

    @lru_cache(maxsize=4096)
    def plain(msgid: str) -> str:
        return str(localizer.translate(_(msgid)))

    def translate(msgid: str, mapping: dict[str, Any] | None = None, **kw: Any) -> str:
        # Column headings repeat on every line of every digest: translate them once.
        if not (mapping or kw):
            return plain(msgid)
        return str(localizer.translate(_(msgid, mapping=mapping or kw)))

    def label(labels: dict[Any, str], key: Any) -> str:
        found = labels.get(key)
        return translate(found) if found else str(key)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # HTML mail escapes everything it shows; the text part is plain text.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.jinja2",), default_for_string=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(
        _=translate,
        kind_label=lambda kind: label(KIND_LABELS, kind),
        rating_label=lambda level: label(RATING_LEVELS, level),
        when=when,
        day=day,
        pct=pct,
        delta=delta,
        bar=bar,
        days_late=days_late,
    )
    return Catalog(env, translate)


# -- formatting helpers the templates use -------------------------------------------------
def when(dt: datetime | None) -> str:
    """Beijing time; an end-of-day deadline reads "03-04 24:00", not "03-05 00:00"."""
    if dt is None:
        return ""
    shown = local(dt)
    if (shown.hour, shown.minute) == (0, 0):
        return f"{shown - timedelta(days=1):%m-%d} 24:00"
    return f"{shown:%m-%d %H:%M}"


def day(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def delta(now: float | int | None, before: float | int | None, percent: bool = False) -> str:
    """▲3 / ▼1.5pp / ＝ (arrows and words, never colour alone)."""
    if now is None or before is None:
        return ""
    change = (now - before) * (100 if percent else 1)
    if abs(change) < (0.05 if percent else 1):
        return "＝"
    arrow = "▲" if change > 0 else "▼"
    amount = f"{abs(change):.1f}pp" if percent else f"{abs(change):g}"
    return f"{arrow}{amount}"


def bar(value: float | int | None, top: float | int) -> int:
    """The width of a table-cell bar, in percent of its column."""
    if not value or not top:
        return 0
    return max(1, min(100, round(value / top * 100)))


def days_late(due: datetime | None, at: datetime) -> int:
    if due is None:
        return 0
    return max(0, (at - due).days + (1 if (at - due) % timedelta(days=1) else 0))


# -- the digests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Links:
    """Where a mail's links go (``qzt.public_url``)."""

    public_url: str
    case: Callable[[int], str]

    @property
    def dashboard(self) -> str:
        return f"{self.public_url}/leader"

    @property
    def weekly(self) -> str:
        return f"{self.public_url}/leader/weekly"


def render_daily(
    digest: DailyDigest, links: Links, *, site: str, locale: str = "zh_CN", copy: bool = False
) -> Rendered:
    catalog = _catalog(locale)
    env, t = catalog.env, catalog.translate
    context = {"d": digest, "links": links, "site": site, "copy": copy}
    if digest.empty:
        subject = t(
            EMPTY_SUBJECT,
            site=site,
            date=day(digest.period),
        )
    else:
        subject = t(
            DAILY_SUBJECT,
            site=site,
            date=day(digest.period),
            new=digest.new.total,
            overdue=digest.overdue.total,
        )
    subject = _decorate(t, subject, digest.late, copy)
    name = "empty" if digest.empty else "daily"
    return Rendered(
        subject,
        env.get_template(f"digests/mail_{name}.txt.jinja2").render(context),
        env.get_template(f"digests/mail_{name}.html.jinja2").render(context),
    )


def render_weekly(
    digest: WeeklyDigest, links: Links, *, site: str, locale: str = "zh_CN", copy: bool = False
) -> Rendered:
    catalog = _catalog(locale)
    env, t = catalog.env, catalog.translate
    subject = t(
        WEEKLY_SUBJECT,
        site=site,
        first=day(digest.window.first_day),
        last=day(digest.window.last_day),
        received=digest.total.received,
        rate=pct(digest.total.close_on_time_rate),
    )
    subject = _decorate(t, subject, digest.late, copy)
    top_received = max([r.this.received for r in digest.rows] + [1])
    top_week = max([max(r, c) for _, r, c in digest.history] + [1])
    context = {
        "w": digest,
        "links": links,
        "site": site,
        "copy": copy,
        "top_received": top_received,
        "top_week": top_week,
    }
    return Rendered(
        subject,
        env.get_template("digests/mail_weekly.txt.jinja2").render(context),
        env.get_template("digests/mail_weekly.html.jinja2").render(context),
    )


def _decorate(t: Callable[..., str], subject: str, late: bool, copy: bool) -> str:
    if late:
        subject = t(LATE, subject=subject)
    if copy:
        subject = t(COPY, subject=subject)
    return subject
