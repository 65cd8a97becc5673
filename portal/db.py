"""Database wiring: declarative base, engine, per-request session joined to the transaction.

The request's session is created lazily (``request.dbsession``) and bound to
``request.tm`` through zope.sqlalchemy, so a view never commits: pyramid_tm commits
when the view returns and aborts on any exception, which is what keeps a failed
form from being half-saved. pyramid_retry re-runs a request whose transaction hit a
serialization failure or deadlock on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names make Alembic autogenerate and downgrades predictable on
# both SQLite (batch mode needs named constraints) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type and hands back naive values; normalising here means
    domain code can compare any stored time with ``clock.now()`` without thinking.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked per connection; WAL lets the portal
    # read while the importer or another process writes.
    # The pysqlite driver starts transactions lazily and on its own terms, which
    # breaks SAVEPOINT: a RELEASE then commits for real (forms save inside a
    # savepoint, tests roll back an outer transaction). Taking over BEGIN is
    # SQLAlchemy's documented remedy (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


#: execution option of a bind whose transactions take SQLite's write lock at BEGIN
SQLITE_IMMEDIATE = "qzt_sqlite_immediate"


_writer_thread = threading.local()


@contextmanager
def sqlite_writer() -> Iterator[None]:
    """Inside this block, this thread's SQLite transactions take the write lock at BEGIN.

    For background work that writes (jobs, the search drain): started together with
    the portal, they would otherwise read, meet each other's commits and fail their
    first write at once with "database is locked" (see ``_sqlite_begin``).
    """
    previous = getattr(_writer_thread, "on", False)
    _writer_thread.on = True
    try:
        yield
    finally:
        _writer_thread.on = previous


def _sqlite_begin(connection: Any) -> None:
    # Why IMMEDIATE for requests that write: a transaction that has read cannot then
    # write while another connection (the realtime server, a job thread) is writing;
    # SQLite answers "database is locked" at once instead of waiting its busy timeout
    # (it would deadlock otherwise). Taking the write lock first makes it wait.
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE) or getattr(
        _writer_thread, "on", False
    )
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_busy_is_retryable(context: Any) -> None:
    # A read-only request that writes after all (a session touch) can still meet the
    # case above; running it again from the start is the remedy, as for a
    # serialization failure on PostgreSQL.
    from pyramid_retry import mark_error_retryable

    if context.sqlalchemy_exception is not None and "database is locked" in str(
        context.original_exception
    ):
        mark_error_retryable(context.sqlalchemy_exception)


def make_engine(settings: dict[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    url = settings[prefix + "url"]
    # JSON columns (revisions, sessions) keep Chinese as UTF-8, not \uXXXX escapes
    # that would double their size.
    kwargs: dict[str, Any] = {
        "future": True,
        "json_serializer": lambda obj: json.dumps(obj, ensure_ascii=False),
    }
    if url.startswith("postgresql"):
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _sqlite_busy_is_retryable)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: Callable[[], Session]) -> Iterator[Session]:
    """A session from ``factory`` in a transaction of its own, outside any request:
    committed if the block ends normally, rolled back if it raises, always closed."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def session_for_transaction(factory: sessionmaker[Session], transaction_manager: Any) -> Session:
    session = factory()
    zope.sqlalchemy.register(session, transaction_manager=transaction_manager)
    return session


def _dbsession(request: Request) -> Session:
    # Tests hand a session bound to an outer, rolled-back transaction through the
    # environ; production always builds one per request.
    session = request.environ.get("qzt.dbsession")
    if session is None:
        factory = request.registry["dbsession_factory"]
        session = session_for_transaction(factory, request.tm)
        bind = session.get_bind()
        if bind.dialect.name == "sqlite" and _sqlite_takes_write_lock(request):
            session.bind = bind.execution_options(**{SQLITE_IMMEDIATE: True})
    return session


def _sqlite_takes_write_lock(request: Request) -> bool:
    # A page view reads in a deferred transaction, so that views never wait for each
    # other. If it writes after all (a flash message popped, a session touched) while
    # another connection wrote since its first read, SQLite refuses at once and
    # pyramid_retry runs it again. That second attempt takes the write lock first and
    # so waits its turn: otherwise a busy realtime server or a slow page could lose
    # the race on every attempt and the user would see a 500.
    return request.method not in ("GET", "HEAD") or request.environ.get("retry.attempt", 0) > 0


#: bodies larger than this (or of unknown length) are not retried, see retry_attempts
RETRY_MAX_BODY = 1024 * 1024


def retry_attempts(request: Request) -> int | None:
    """pyramid_retry's activate hook: 1 attempt for big or unsized bodies, else the default.

    To replay a request pyramid_retry must first copy its whole body, before any view
    runs. An upload view has to refuse an oversize body by its Content-Length *before*
    anything reads it, so such bodies get a single attempt and are never copied.
    """
    length = request.content_length
    if request.method not in ("GET", "HEAD") and (length is None or length > RETRY_MAX_BODY):
        return 1
    return None


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    # pyramid_tm would look up the user on every request just to annotate the
    # transaction; we do not need that and static files should not pay for it.
    settings.setdefault("tm.annotate_user", False)
    settings.setdefault("retry.activate_hook", retry_attempts)
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = settings.get("qzt.engine") or make_engine(settings)
    config.registry["db_engine"] = engine
    config.registry["dbsession_factory"] = make_session_factory(engine)
    config.add_request_method(_dbsession, "dbsession", reify=True)
