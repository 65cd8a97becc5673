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
        "qzt.search.term_model",
        "",
        "QZT_SEARCH_TERM_MODEL",
        str,
        "A term-association model (python -m search.termmodel) to expand questions with; "
        "empty for none.",
    ),
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
    Setting(
        "qzt.public_url",
        "http://127.0.0.1:6543",
        "QZT_PUBLIC_URL",
        str,
        "The portal's address as users reach it: links in emails and digests start here.",
    ),
    # -- jobs ------------------------------------------------------------------------
    Setting(
        "qzt.jobs.enabled",
        True,
        "QZT_JOBS_ENABLED",
        asbool,
        "Run the periodic jobs (mail delivery, deadlines, digests, reminders) in this process.",
    ),
    # -- mail ------------------------------------------------------------------------
    Setting(
        "qzt.mail.sender",
        "企政通 <noreply@qzt.example.gov.cn>",
        "QZT_MAIL_SENDER",
        str,
        "From: of every message the portal sends.",
    ),
    Setting(
        "qzt.mail.domain",
        "qzt.example.gov.cn",
        "QZT_MAIL_DOMAIN",
        str,
        "Right-hand side of the Message-IDs the portal makes.",
    ),
    Setting(
        "qzt.mail.transport",
        "maildir",
        "QZT_MAIL_TRANSPORT",
        str,
        "Where queued mail goes: maildir (a local Maildir, the embedded default) or smtp.",
    ),
    Setting(
        "qzt.mail.maildir",
        "var/maildir",
        "QZT_MAIL_MAILDIR",
        str,
        "The Maildir of the maildir transport, relative to the .ini's directory.",
    ),
    Setting("qzt.mail.smtp.host", "localhost", "QZT_SMTP_HOST", str, "SMTP relay host."),
    Setting(
        "qzt.mail.smtp.port", 25, "QZT_SMTP_PORT", int, "SMTP relay port (587 STARTTLS, 465 SSL)."
    ),
    Setting(
        "qzt.mail.smtp.security",
        "none",
        "QZT_SMTP_SECURITY",
        str,
        "none, starttls (upgrade; refuse a server that cannot) or ssl (TLS from the first byte).",
    ),
    Setting("qzt.mail.smtp.user", "", "QZT_SMTP_USER", str, "SMTP login; empty = no AUTH."),
    Setting("qzt.mail.smtp.password", "", "QZT_SMTP_PASSWORD", str, "SMTP password."),
    Setting(
        "qzt.mail.smtp.timeout",
        30,
        "QZT_SMTP_TIMEOUT",
        int,
        "Seconds each SMTP network operation may take before the attempt counts as failed.",
    ),
    Setting(
        "qzt.mail.smtp.cafile",
        "",
        "QZT_SMTP_CAFILE",
        str,
        "PEM file of extra CA certificates trusted for the relay's TLS certificate (private CA).",
    ),
    Setting(
        "qzt.mail.send_interval",
        10,
        "QZT_MAIL_SEND_INTERVAL",
        int,
        "Seconds between passes of the sender over the outbox.",
    ),
    Setting(
        "qzt.mail.batch_size",
        50,
        "QZT_MAIL_BATCH_SIZE",
        int,
        "Messages one sender claims per pass (one SMTP connection).",
    ),
    Setting(
        "qzt.mail.retry_base",
        60,
        "QZT_MAIL_RETRY_BASE",
        int,
        "Seconds before the first retry; each further failure doubles the wait.",
    ),
    Setting(
        "qzt.mail.retry_max",
        6 * 3600,
        "QZT_MAIL_RETRY_MAX",
        int,
        "Longest wait between two attempts at one message.",
    ),
    Setting(
        "qzt.mail.max_attempts",
        12,
        "QZT_MAIL_MAX_ATTEMPTS",
        int,
        "Attempts before a message is marked failed (about a day with the defaults).",
    ),
    # -- realtime (chat, presence, meeting signalling) -------------------------------
    Setting(
        "qzt.realtime.secret",
        "change-me-realtime-secret",
        "QZT_REALTIME_SECRET",
        str,
        "HMAC key shared by the portal (signs) and the realtime server (verifies) for tokens.",
    ),
    Setting(
        "qzt.realtime.host",
        "127.0.0.1",
        "QZT_REALTIME_HOST",
        str,
        "Address the realtime server listens on.",
    ),
    Setting(
        "qzt.realtime.port",
        6544,
        "QZT_REALTIME_PORT",
        int,
        "Port of the realtime server (websocket /ws and GET /healthz).",
    ),
    Setting(
        "qzt.realtime.public_url",
        "ws://127.0.0.1:6544/ws",
        "QZT_REALTIME_PUBLIC_URL",
        str,
        "The websocket URL browsers connect to (wss://… behind HTTPS).",
    ),
    Setting(
        "qzt.realtime.origins",
        ["http://127.0.0.1:6543", "http://localhost:6543"],
        "QZT_REALTIME_ORIGINS",
        aslist,
        "Origins allowed to open a websocket (the portal’s own addresses); others get HTTP 403.",
    ),
    Setting(
        "qzt.realtime.allow_no_origin",
        True,
        "QZT_REALTIME_ALLOW_NO_ORIGIN",
        asbool,
        "Accept handshakes without an Origin header (tests, benchmarks, server-side tools).",
    ),
    Setting(
        "qzt.realtime.broker",
        "memory",
        "QZT_REALTIME_BROKER",
        str,
        "memory (one realtime process) or redis (several processes share fan-out).",
    ),
    Setting(
        "qzt.realtime.redis_url",
        "redis://127.0.0.1:6379/0",
        "QZT_REALTIME_REDIS_URL",
        str,
        "Redis of the redis broker.",
    ),
    Setting(
        "qzt.realtime.redis_prefix",
        "qzt:",
        "QZT_REALTIME_REDIS_PREFIX",
        str,
        "Prefix of the broker’s Redis channels (one per deployment).",
    ),
    Setting(
        "qzt.realtime.max_message_bytes",
        65536,
        "QZT_REALTIME_MAX_MESSAGE_BYTES",
        int,
        "Largest websocket frame accepted; a bigger one closes the connection (1009).",
    ),
    Setting(
        "qzt.realtime.rate",
        20,
        "QZT_REALTIME_RATE",
        float,
        "Messages per second one connection may send (token bucket refill).",
    ),
    Setting(
        "qzt.realtime.burst",
        40,
        "QZT_REALTIME_BURST",
        int,
        "Messages one connection may send in a burst above the rate.",
    ),
    Setting(
        "qzt.realtime.flood_close",
        200,
        "QZT_REALTIME_FLOOD_CLOSE",
        int,
        "Rate-limited messages in a row after which the connection is closed (4429).",
    ),
    Setting(
        "qzt.realtime.auth_timeout",
        10,
        "QZT_REALTIME_AUTH_TIMEOUT",
        float,
        "Seconds a new connection has to send its auth message.",
    ),
    Setting(
        "qzt.realtime.token_ttl",
        60,
        "QZT_REALTIME_TOKEN_TTL",
        int,
        "Lifetime in seconds of the tokens the portal signs for the realtime server.",
    ),
    Setting(
        "qzt.realtime.ping_interval",
        10,
        "QZT_REALTIME_PING_INTERVAL",
        float,
        "Seconds between websocket pings; a peer silent for two intervals is disconnected.",
    ),
    Setting(
        "qzt.realtime.presence_ttl",
        30,
        "QZT_REALTIME_PRESENCE_TTL",
        float,
        "Seconds after which staff whose process stopped refreshing them count as offline.",
    ),
    Setting(
        "qzt.realtime.session_check",
        15,
        "QZT_REALTIME_SESSION_CHECK",
        float,
        "Seconds between checks that the portal sessions behind open connections still exist "
        "(logout closes them).",
    ),
    Setting(
        "qzt.realtime.db_threads",
        8,
        "QZT_REALTIME_DB_THREADS",
        int,
        "Worker threads of a realtime process for database work.",
    ),
    # -- chat --------------------------------------------------------------------------
    Setting(
        "qzt.chat.max_open_per_staff",
        3,
        "QZT_CHAT_MAX_OPEN_PER_STAFF",
        int,
        "Open chats one staff member gets by routing before new ones wait in the queue.",
    ),
    Setting(
        "qzt.chat.max_body_chars",
        2000,
        "QZT_CHAT_MAX_BODY_CHARS",
        int,
        "Longest chat message, in characters.",
    ),
    # -- meetings ----------------------------------------------------------------------
    Setting(
        "qzt.meetings.link_secret",
        "change-me-meetings-link-secret",
        "QZT_MEETINGS_LINK_SECRET",
        str,
        "HMAC key of the reschedule/cancel links mailed to both sides of a booking.",
    ),
    Setting(
        "qzt.meetings.reminder_every",
        60,
        "QZT_MEETINGS_REMINDER_EVERY",
        int,
        "Seconds between runs of the booking reminder job (day before, 15 minutes before).",
    ),
    Setting(
        "qzt.meetings.stun_urls",
        [],
        "QZT_MEETINGS_STUN_URLS",
        aslist,
        "STUN servers browsers (and the recorder) use to find their public address, e.g. "
        "stun:turn.example.gov.cn:3478; empty on a LAN or loopback.",
    ),
    Setting(
        "qzt.meetings.turn_urls",
        [],
        "QZT_MEETINGS_TURN_URLS",
        aslist,
        "TURN relays (coturn) for when no direct path exists, e.g. "
        "turn:turn.example.gov.cn:3478?transport=udp turns:turn.example.gov.cn:5349.",
    ),
    Setting(
        "qzt.meetings.turn_secret",
        "",
        "QZT_MEETINGS_TURN_SECRET",
        str,
        "coturn's static-auth-secret: the portal derives short-lived TURN credentials from it.",
    ),
    Setting(
        "qzt.meetings.turn_ttl",
        6 * 3600,
        "QZT_MEETINGS_TURN_TTL",
        int,
        "Seconds the TURN credentials of a meeting page stay valid (longer than a meeting).",
    ),
    Setting(
        "qzt.meetings.recording_dir",
        "var/recordings",
        "QZT_MEETINGS_RECORDING_DIR",
        str,
        "Where meeting recordings are written (realtime) and read (portal): one shared directory.",
    ),
    Setting(
        "qzt.meetings.recording_retention_days",
        90,
        "QZT_MEETINGS_RECORDING_RETENTION_DAYS",
        int,
        "Days a meeting recording is kept; the purge job then deletes its files.",
    ),
    Setting(
        "qzt.meetings.purge_every",
        3600,
        "QZT_MEETINGS_PURGE_EVERY",
        int,
        "Seconds between runs of the recording retention purge job.",
    ),
    # -- complaints --------------------------------------------------------------------
    Setting(
        "qzt.complaints.close_limits",
        "consult=2d help=10d suggestion=10d complaint=15d report=15d",
        "QZT_COMPLAINTS_CLOSE_LIMITS",
        str,
        "Closure time limit per case type, in working days (d) or office hours (h).",
    ),
    Setting(
        "qzt.complaints.reply_limits",
        "consult=1d help=3d suggestion=5d complaint=5d report=5d",
        "QZT_COMPLAINTS_REPLY_LIMITS",
        str,
        "Time limit for the first reply per case type (working days d or office hours h).",
    ),
    Setting(
        "qzt.complaints.category_limits",
        "",
        "QZT_COMPLAINTS_CATEGORY_LIMITS",
        str,
        "Closure limits that override the type's for a category: category_code=7d …",
    ),
    Setting(
        "qzt.complaints.sign_limit",
        "4h",
        "QZT_COMPLAINTS_SIGN_LIMIT",
        str,
        "Time a department has to sign for (签收) a dispatched case.",
    ),
    Setting(
        "qzt.complaints.warn_before",
        "1d",
        "QZT_COMPLAINTS_WARN_BEFORE",
        str,
        "催办 reminder this long before a day-level deadline (1d = from the last working day).",
    ),
    Setting(
        "qzt.complaints.warn_before_hours",
        "1h",
        "QZT_COMPLAINTS_WARN_BEFORE_HOURS",
        str,
        "催办 reminder this long before an hour-level deadline (e.g. signing).",
    ),
    Setting(
        "qzt.complaints.supervise_after",
        "5d",
        "QZT_COMPLAINTS_SUPERVISE_AFTER",
        str,
        "A breach still open this long after the deadline is escalated to 督办.",
    ),
    Setting(
        "qzt.complaints.rectify_limit",
        "10d",
        "QZT_COMPLAINTS_RECTIFY_LIMIT",
        str,
        "Time limit of a 整改 after a bad rating.",
    ),
    Setting(
        "qzt.complaints.office_hours",
        "09:00-17:00",
        "QZT_COMPLAINTS_OFFICE_HOURS",
        str,
        "Office hours (Beijing time) in which hour-level limits run, on working days only.",
    ),
    Setting(
        "qzt.complaints.desk_department",
        "zsj",
        "QZT_COMPLAINTS_DESK_DEPARTMENT",
        str,
        "Code of the department whose staff act as the dispatch desk (派单, 退单 review, 延期).",
    ),
    Setting(
        "qzt.complaints.auto_dispatch",
        True,
        "QZT_COMPLAINTS_AUTO_DISPATCH",
        asbool,
        "Dispatch a new case at once to the chosen department or the category's lead one.",
    ),
    Setting(
        "qzt.complaints.check_interval",
        300,
        "QZT_COMPLAINTS_CHECK_INTERVAL",
        int,
        "Seconds between runs of the deadline check (催办, breach, 督办).",
    ),
    Setting(
        "qzt.complaints.max_attachments",
        5,
        "QZT_COMPLAINTS_MAX_ATTACHMENTS",
        int,
        "Files an enterprise may attach to one case form.",
    ),
    Setting(
        "qzt.open311.api_keys",
        "",
        "QZT_OPEN311_API_KEYS",
        aslist,
        "Open311 clients allowed to file requests, as name:key pairs separated by spaces.",
    ),
    Setting(
        "qzt.open311.jurisdiction",
        "jiangmen.gov.cn",
        "QZT_OPEN311_JURISDICTION",
        str,
        "Open311 jurisdiction_id this endpoint answers for.",
    ),
    # -- digests -----------------------------------------------------------------------
    Setting(
        "qzt.digests.timezone",
        "Asia/Shanghai",
        "QZT_DIGEST_TIMEZONE",
        str,
        "Time zone of the digest times and of the days and weeks they report on.",
    ),
    Setting(
        "qzt.digests.daily_at",
        "08:00",
        "QZT_DIGEST_DAILY_AT",
        str,
        "When the daily digest to each 分管领导 goes out (HH:MM).",
    ),
    Setting(
        "qzt.digests.weekly_at",
        "mon 08:30",
        "QZT_DIGEST_WEEKLY_AT",
        str,
        "When the weekly digest to the mayor goes out (weekday HH:MM); it covers the week before.",
    ),
    Setting(
        "qzt.digests.empty_daily",
        "oneline",
        "QZT_DIGEST_EMPTY_DAILY",
        str,
        "A day with nothing to report: oneline (a one-line mail) or skip (no mail).",
    ),
    Setting(
        "qzt.digests.catch_up_days",
        7,
        "QZT_DIGEST_CATCH_UP_DAYS",
        int,
        "After downtime, digests missed in the last N days are sent late; older ones are not.",
    ),
    Setting(
        "qzt.digests.check_interval",
        60,
        "QZT_DIGEST_CHECK_INTERVAL",
        int,
        "Seconds between the scheduler's checks for a digest that is due.",
    ),
    Setting(
        "qzt.digests.list_limit",
        10,
        "QZT_DIGEST_LIST_LIMIT",
        int,
        "Cases listed per department and section in a mail; the rest are counted and linked.",
    ),
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
