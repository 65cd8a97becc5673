"""Whole-page cache for anonymous visitors, invalidated through the database.

Why: rendering the home page costs about 14 ms of CPU (four queries, 58 department
links, 32 items), which capped one process at some 75 pages a second, while the page
is the same for every visitor without a session until content changes. The
benchmark (bench/README.md) asks for half a bare Pyramid app's throughput.

How it stays correct, with any number of processes:

* A one-row table, ``page_generation``, holds a random token. Every flush that
  inserts, changes or deletes a row of a table shown on the cached pages
  (:data:`PAGE_TABLES`) writes a new token *in the same transaction*: the token
  changes exactly when the change commits, for every process at once, and a rolled
  back change leaves it alone. A random token rather than a counter because a
  counter repeats its values after a rollback (every test rolls back), and a
  repeated value would revive a page cached before the rollback.
* Each cached page is stored with the token read *before* it was rendered. The
  render's own transaction starts later, so it sees at least that state; a page
  rendered from newer data under an older token is merely discarded early.
* Every request reads the current token (one indexed single-row query on a pooled
  connection) and only a page stored under that token is served. Nothing is served
  on the strength of time or of this process's memory.

Only anonymous GETs of :data:`CACHED_ROUTES` are candidates: a request with a
session cookie, a response that opened a session, set a cookie or is not a plain
200 HTML page is never stored. Listings are cached for their plain pages only
(``?page=N``): keyword and filter combinations are a long tail that would only
push the popular pages out of the bounded LRU.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pyramid.config import Configurator
from pyramid.interfaces import PHASE3_CONFIG, IExecutionPolicy, IRoutesMapper
from pyramid.response import Response
from pyramid.router import default_execution_policy
from sqlalchemy import String, event, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from portal.db import Base

#: tables whose rows appear on a cached page; a change to any of them retires every
#: cached page (add a table here when a cached page starts showing its rows)
PAGE_TABLES = frozenset(
    {"content_items", "content_industries", "attachments", "departments", "friend_links"}
)

#: routes whose anonymous responses may be cached
CACHED_ROUTES = ("home", "content.section", "content.item")

#: query parameters that keep a listing cacheable (its page number, the UI language)
CACHED_PARAMS = frozenset({"page", "_LOCALE_"})

#: a page larger than this is not kept (the home page is about 17 kB)
MAX_BODY = 512 * 1024

#: pages rendered at the same time at most (one per lock; see PageCachePolicy)
RENDER_LOCKS = 16

#: request headers in the cache key, so a response may ``Vary`` on them
VARY_KEYED = frozenset({"cookie", "accept-language"})

GENERATION_ID = 1
READ_SQL = "SELECT token FROM page_generation WHERE id = 1"


class PageGeneration(Base):
    """The one row whose token names the current state of everything shown publicly."""

    __tablename__ = "page_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


def new_token() -> str:
    return secrets.token_hex(8)


# -- writing: a new token whenever a page table changes --------------------------------


def _table_of(obj: Any) -> str | None:
    table = getattr(type(obj), "__table__", None)
    return None if table is None else str(table.name)


def touches_pages(objects: Iterable[Any]) -> bool:
    return any(_table_of(obj) in PAGE_TABLES for obj in objects)


def bump(connection: Connection) -> None:
    """Write a new token, creating the row if a database lacks it."""
    token = new_token()
    result = connection.execute(
        update(PageGeneration).where(PageGeneration.id == GENERATION_ID).values(token=token)
    )
    if result.rowcount == 0:
        connection.execute(insert(PageGeneration).values(id=GENERATION_ID, token=token))


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    # new/dirty/deleted still list what this flush wrote. Every flush bumps, not
    # once per transaction: a bump inside a savepoint that rolls back is undone,
    # and a later change in the same transaction must bump again.
    if touches_pages([*session.new, *session.dirty, *session.deleted]):
        bump(session.connection())


def _do_orm_execute(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE statements bypass the unit of work, so flush never sees them.
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in PAGE_TABLES:
            bump(state.session.connection())


def listen() -> None:
    """Watch every Session of this process (the app's, the CLI's, the tests')."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _do_orm_execute)


# Registered on import: portal.models imports this module, and every process that
# writes content (the app, `qzt seed`, `qzt import`) imports portal.models.
listen()


# -- reading: the cache itself -------------------------------------------------------------


@dataclass(frozen=True)
class CachedPage:
    token: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> Response:
        # conditional_response: a revalidation with the stored ETag gets a 304
        return Response(body=self.body, headerlist=list(self.headers), conditional_response=True)


class PageCache:
    """A bounded, thread-safe LRU of rendered pages, each tagged with its token."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._pages: OrderedDict[tuple[str, ...], CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], token: str) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.token != token:
                del self._pages[key]  # stale: content changed since it was rendered
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[str, ...], page: CachedPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)


def read_token(environ: dict[str, Any], engine: Engine) -> str:
    """The committed token, or the test's own view of it.

    Tests hand the request a session inside an uncommitted transaction (see
    portal.db); a pooled connection could not see their changes.
    """
    session = environ.get("qzt.dbsession")
    if session is not None:  # an ORM query, so pending changes are flushed first
        return str(session.scalar(select(PageGeneration.token)) or "")
    # The DB-API connection straight from the pool: a quarter of the cost of a Core
    # Connection, which matters when this query is most of a cached page's work.
    # Closing returns it to the pool, which rolls back, so no snapshot is kept.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(READ_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        connection.close()
    return "" if row is None else str(row[0])


def storable(response: Response) -> bool:
    """What the portal's own caching headers (portal.web) say any visitor may get.

    A personal response is ``private, no-store``; one that sets a cookie, varies on
    more than the request headers in the key, or is not a complete 200 HTML page in
    memory is not kept either.
    """
    cache_control = response.cache_control
    return (
        response.status_code == 200
        and response.content_type == "text/html"
        and "Set-Cookie" not in response.headers
        and not cache_control.private
        and not cache_control.no_store
        and {v.lower() for v in response.vary or ()} <= VARY_KEYED
        and isinstance(response.app_iter, list)
        and len(response.body) <= MAX_BODY
    )


class PageCachePolicy:
    """Pyramid execution policy: answer cached pages before a request is even built.

    Why an execution policy and not a tween: a tween runs after Pyramid has built
    the request, applied its request methods and entered pyramid_retry, which cost
    several times what the cache itself does for a hit. The policy wraps
    pyramid_retry's, so every page it does not serve is handled exactly as before.

    The key holds what the response may vary on: scheme, host, path and query,
    and the ``Cookie`` and ``Accept-Language`` headers it names in ``Vary`` (the
    language choice lives in a cookie or ``?_LOCALE_=``).
    """

    def __init__(self, inner: Callable[[dict[str, Any], Any], Response], size: int) -> None:
        self.inner = inner
        self.cache = PageCache(size)
        self._routes: list[Any] | None = None
        # Right after a change every visitor misses at once; one render per page is
        # enough, so the others wait for it. Striped locks keep the table bounded.
        self._render_locks = [threading.Lock() for _ in range(RENDER_LOCKS)]

    def __call__(self, environ: dict[str, Any], router: Any) -> Response:
        registry = router.registry
        if not self.candidate(environ, registry):
            return self.inner(environ, router)
        token = read_token(environ, registry["db_engine"])
        key = self.key(environ)
        page = self.cache.get(key, token)
        if page is not None:
            return page.response()
        with self._render_locks[hash(key) % RENDER_LOCKS]:
            page = self.cache.get(key, token)  # rendered while this request waited?
            if page is not None:
                return page.response()
            response = self.inner(environ, router)
            if storable(response):
                self.cache.put(key, CachedPage(token, tuple(response.headerlist), response.body))
            return response

    def candidate(self, environ: dict[str, Any], registry: Any) -> bool:
        if environ["REQUEST_METHOD"] != "GET":
            return False
        cookie = registry["session_store"].cookie_name
        if cookie + "=" in environ.get("HTTP_COOKIE", ""):
            return False  # a session: possibly signed in, possibly a flash message
        query = environ.get("QUERY_STRING", "")
        if query and any(name not in CACHED_PARAMS for name, _ in parse_qsl(query, True)):
            return False
        path = environ.get("PATH_INFO", "")
        return any(route.match(path) is not None for route in self.routes(registry))

    def routes(self, registry: Any) -> list[Any]:
        if self._routes is None:  # routes exist only once configuration is committed
            mapper = registry.getUtility(IRoutesMapper)
            self._routes = [mapper.get_route(name) for name in CACHED_ROUTES]
        return self._routes

    @staticmethod
    def key(environ: dict[str, Any]) -> tuple[str, ...]:
        return (
            environ["wsgi.url_scheme"],
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_COOKIE", ""),
            environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        )


def includeme(config: Configurator) -> None:
    """Wrap whatever execution policy is configured (pyramid_retry's) in the cache."""
    size = config.get_settings()["qzt.page_cache.entries"]
    if size <= 0:
        return

    def wrap() -> None:
        inner = config.registry.queryUtility(IExecutionPolicy, default=default_execution_policy)
        policy = PageCachePolicy(inner, size)
        config.registry.registerUtility(policy, IExecutionPolicy)
        config.registry["page_cache"] = policy.cache

    # After PHASE3 (order 0), where pyramid_retry registers its own policy.
    config.action(("qzt", "page-cache"), wrap, order=PHASE3_CONFIG + 10)
