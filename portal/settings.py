"""Settings: typed defaults, the .ini file, then the environment, in that order.

Nothing else in the project reads ``os.environ``: a deployment changes behaviour by
setting ``QZT_*`` variables (see docs/configuration.md), and the values land here,
converted once, so the rest of the code reads plain Python values from the registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def asbool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def aslist(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [part for part in str(value).replace(",", " ").split() if part]


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    env: str | None
    convert: Callable[[Any], Any]
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "sqlalchemy.url",
        "sqlite:///%(here)s/var/qzt.sqlite",
        "QZT_DATABASE_URL",
        str,
        "SQLAlchemy URL: SQLite under var/ by default, postgresql+psycopg://… in production.",
    ),
    Setting(
        "qzt.storage_dir",
        "var/files",
        "QZT_STORAGE_DIR",
        str,
        "Where uploaded attachments live: outside static/, never served directly.",
    ),
    Setting(
        "qzt.upload.max_bytes",
        20 * 1024 * 1024,
        "QZT_UPLOAD_MAX_BYTES",
        int,
        "Largest accepted upload; checked against Content-Length before the body is read.",
    ),
    Setting(
        "qzt.session.cookie_name",
        "qzt_session",
        "QZT_SESSION_COOKIE_NAME",
        str,
        "Session cookie name; production uses the __Host- prefix.",
    ),
    Setting(
        "qzt.session.secure",
        False,
        "QZT_SESSION_SECURE",
        asbool,
        "Mark cookies Secure (production behind HTTPS).",
    ),
    Setting(
        "qzt.session.idle_timeout",
        30 * 60,
        "QZT_SESSION_IDLE_TIMEOUT",
        int,
        "Seconds of inactivity after which a session ends (ASVS: 30 min).",
    ),
    Setting(
        "qzt.session.absolute_lifetime",
        12 * 3600,
        "QZT_SESSION_ABSOLUTE_LIFETIME",
        int,
        "Seconds after login after which a session ends however active it is.",
    ),
    Setting(
        "qzt.session.touch_interval",
        60,
        "QZT_SESSION_TOUCH_INTERVAL",
        int,
        "Seconds between writes of last_seen: reads of an active session stay writes-free.",
    ),
    Setting(
        "qzt.login.max_failures",
        5,
        "QZT_LOGIN_MAX_FAILURES",
        int,
        "Failed logins in a row that lock an account.",
    ),
    Setting(
        "qzt.login.lock_minutes",
        30,
        "QZT_LOGIN_LOCK_MINUTES",
        int,
        "How long a locked account stays locked.",
    ),
    Setting(
        "qzt.password.min_length",
        8,
        "QZT_PASSWORD_MIN_LENGTH",
        int,
        "Minimum password length for enterprise users.",
    ),
    Setting(
        "qzt.password.staff_min_length",
        12,
        "QZT_PASSWORD_STAFF_MIN_LENGTH",
        int,
        "Minimum password length for government staff (ASVS L2).",
    ),
    Setting("qzt.page_size", 20, "QZT_PAGE_SIZE", int, "Items per page in section listings."),
    Setting(
        "qzt.home.items_per_column",
        8,
        "QZT_HOME_ITEMS",
        int,
        "Latest items shown in each of the home page's four columns.",
    ),
    Setting(
        "qzt.page_cache.entries",
        256,
        "QZT_PAGE_CACHE_ENTRIES",
        int,
        "Rendered anonymous pages kept per process (portal/pagecache.py); 0 turns the cache off.",
    ),
    Setting(
        "qzt.search.backend",
        "whoosh",
        "QZT_SEARCH_BACKEND",
        str,
        "Search service: whoosh (an index directory) or null (no search, e.g. for tools).",
    ),
    Setting(
        "qzt.search.index_dir",
        "var/index",
        "QZT_SEARCH_INDEX_DIR",
        str,
        "Directory of the whoosh index, relative to the .ini's directory; shared by all processes.",
    ),
    Setting(
        "qzt.search.drain_interval",
        30,
        "QZT_SEARCH_DRAIN_INTERVAL",
        int,
        "Seconds between passes over the search outbox (crash repair); 0 = only at start.",
    ),
    Setting(
        "qzt.search.writer_timeout",
        30,
        "QZT_SEARCH_WRITER_TIMEOUT",
        int,
        "Seconds an index write waits for another process's write lock before giving up.",
    ),
    Setting(
        "qzt.search.max_query_chars",
        200,
        "QZT_SEARCH_MAX_QUERY_CHARS",
        int,
        "Longer searches are cut to this many characters, and the page says so.",
    ),
    Setting("qzt.search.page_size", 10, "QZT_SEARCH_PAGE_SIZE", int, "Hits per search page."),
    Setting(
        "qzt.hsts", False, "QZT_HSTS", asbool, "Send Strict-Transport-Security (only behind HTTPS)."
    ),
    Setting(
        "pyramid.default_locale_name",
        "zh_CN",
        "QZT_DEFAULT_LOCALE",
        str,
        "UI language when the user has not chosen one.",
    ),
    Setting("qzt.available_locales", ["zh_CN", "en"], None, aslist, "Languages the UI offers."),
    Setting("qzt.site_name", "企政通", "QZT_SITE_NAME", str, "Name shown in the header."),
    Setting("qzt.city_name", "江门市", "QZT_CITY_NAME", str, "The city running the portal."),
)


def load(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults < ``raw`` (.ini) < environment and convert each known key."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = dict(raw)
    for setting in SETTINGS:
        value = merged.get(setting.key, setting.default)
        if setting.env and setting.env in environ:
            value = environ[setting.env]
        merged[setting.key] = setting.convert(value)
    here = str(merged.get("here", os.getcwd()))
    merged["sqlalchemy.url"] = merged["sqlalchemy.url"].replace("%(here)s", here)
    if not os.path.isabs(merged["qzt.storage_dir"]):
        merged["qzt.storage_dir"] = os.path.join(here, merged["qzt.storage_dir"])
    return merged
