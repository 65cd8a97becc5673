"""Test harness: one migrated database per run, one rolled-back transaction per test.

The database is SQLite in a temporary file unless QZT_TEST_DATABASE_URL names
another (CI runs the suite again on PostgreSQL). The schema is built by the real
Alembic migrations, so a migration that drifts from the models fails here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import transaction
import webtest
import zope.sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal import main
from portal import settings as settings_mod
from portal.accounts.passwords import Argon2PasswordHasher
from portal.clock import FrozenClock
from portal.db import make_engine
from tests import factories
from tests.timeline import START


def require_service(reason: str) -> None:
    """Skip for a developer without the service; fail in CI, where it must be there."""
    if os.environ.get("QZT_REQUIRE_SERVICES"):
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="qzt-test-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def clock(shared_clock: FrozenClock) -> FrozenClock:
    shared_clock._at = START
    return shared_clock


@pytest.fixture(scope="session")
def settings(tmp_root: str, shared_clock: FrozenClock) -> dict[str, Any]:
    url = os.environ.get("QZT_TEST_DATABASE_URL") or f"sqlite:///{tmp_root}/test.sqlite"
    raw = {
        "here": os.path.dirname(os.path.dirname(__file__)),
        "sqlalchemy.url": url,
        "qzt.storage_dir": os.path.join(tmp_root, "files"),
        "qzt.search.index_dir": os.path.join(tmp_root, "index"),
        "qzt.mail.maildir": os.path.join(tmp_root, "maildir"),
        "qzt.session.secure": "false",
        "qzt.upload.max_bytes": str(2 * 1024 * 1024),
        # Tests call job functions directly on a frozen clock; no background thread.
        "qzt.jobs.enabled": "false",
    }
    loaded = settings_mod.load(raw, environ={})
    loaded["qzt.clock"] = shared_clock
    # Real argon2id, cheap parameters: the suite hashes hundreds of passwords.
    loaded["qzt.password_hasher"] = Argon2PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    return loaded


def _reset_database(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine(settings: dict[str, Any]) -> Iterator[Engine]:
    from alembic import command

    from portal.cli import alembic_config

    engine = make_engine(settings)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.exit(f"test database unreachable: {exc}", returncode=3)
    _reset_database(engine)
    cfg = alembic_config(settings)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(settings: dict[str, Any], engine: Engine) -> Any:
    return main({}, **{**settings, "qzt.engine": engine})


@pytest.fixture
def dbsession(engine: Engine, clock: FrozenClock) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    factories.bind(session)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def tm(dbsession: Session) -> Iterator[transaction.TransactionManager]:
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    zope.sqlalchemy.register(dbsession, transaction_manager=manager)
    yield manager
    manager.abort()


def web(app: Any, tm: transaction.TransactionManager, dbsession: Session) -> webtest.TestApp:
    """A WebTest client whose requests run in the test's rolled-back transaction."""
    return webtest.TestApp(
        app,
        extra_environ={
            "HTTP_HOST": "localhost",
            "tm.active": True,
            "tm.manager": tm,
            "qzt.dbsession": dbsession,
        },
    )


@pytest.fixture
def testapp(app: Any, tm: transaction.TransactionManager, dbsession: Session) -> webtest.TestApp:
    return web(app, tm, dbsession)


def transition_form(page: webtest.TestResponse, name: str) -> Any:
    """The form on ``page`` that posts the workflow transition ``name``."""
    return next(
        f
        for f in page.forms.values()
        if f.get("transition", default=None) and f["transition"].value == name
    )


@pytest.fixture
def login(testapp: webtest.TestApp) -> Any:
    """``login(user)`` signs the test app in through the real login form."""

    def do_login(user: Any, password: str = factories.PASSWORD) -> webtest.TestResponse:
        page = testapp.get("/login")
        form = page.forms["login"]
        form["login"] = user.login
        form["password"] = password
        return form.submit("submit")

    return do_login


@pytest.fixture
def smtpd() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, a free port: ``smtpd.received``
    lists what it accepted, ``smtpd.settings()`` points the SMTP transport at it."""
    from tests.smtpserver import LoopbackSMTP

    server = LoopbackSMTP().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rt_world(engine: Engine) -> Iterator[Any]:
    """Committed departments and people for tests that run the realtime server, which
    works in transactions of its own (tests.realtime_harness.World); removed afterwards."""
    from tests.realtime_harness import World

    world = World(engine)
    yield world
    world.cleanup()
