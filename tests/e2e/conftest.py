"""Browser journeys: Debian's Chromium, driven by Playwright, against a real server.

Unlike the rest of the suite these tests cannot use the per-test rolled-back
session: the browser talks to waitress over TCP, and a request served on another
thread only sees committed rows. So the session gets its own SQLite file, built by
the real Alembic migrations and filled with ``qzt seed``'s sample data, and the
WSGI app runs in waitress on 127.0.0.1 on a free port, exactly as ``pserve`` runs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal import main
from portal import settings as settings_mod
from portal.accounts.passwords import Argon2PasswordHasher
from portal.db import make_engine
from tests.conftest import require_service
from tests.e2e.realtime import DeferredApp, RealtimeThread

CHROMIUM = "/usr/bin/chromium"
#: no network chatter of Chromium's own: the tests must not reach outside 127.0.0.1
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}

#: collects what a page reports: CSP violations reach scripts as DOM events
#: (Chromium also logs them to the console, which the page fixture records)
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


class LiveServer:
    """waitress serving the app in a background thread, stoppable between sessions."""

    def __init__(self, app: Any) -> None:
        from waitress.server import create_server

        self.server: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name="e2e-waitress", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):
            # closing the sockets under a running loop; anything else is a real error
            if not self._stopping:
                raise

    def stop(self) -> None:
        from waitress import wasyncore

        self._stopping = True
        wasyncore.close_all(self.server._map)
        self.server.task_dispatcher.shutdown()
        self.thread.join(timeout=10)


@dataclass
class Site:
    """The running portal and a handle on its database, for looking things up."""

    url: str
    engine: Engine
    settings: dict[str, Any] = field(repr=False)
    #: the realtime server beside the portal (tests/e2e/realtime.py)
    realtime: Any = field(default=None, repr=False)

    def scalar(self, stmt: Any) -> Any:
        with Session(self.engine) as db:
            return db.scalar(stmt)


@dataclass
class PageLog:
    """What the browser reported while a test ran."""

    errors: list[str] = field(default_factory=list)

    def problems(self, page: Any) -> list[str]:
        """Console errors, uncaught exceptions and CSP violations seen so far."""
        violations = page.evaluate("window.__cspViolations || []")
        return [*self.errors, *(f"CSP: {v}" for v in violations)]


def e2e_settings(root: str) -> dict[str, Any]:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    raw = {
        "here": here,
        "sqlalchemy.url": f"sqlite:///{root}/e2e.sqlite",
        "qzt.storage_dir": os.path.join(root, "files"),
        "qzt.search.index_dir": os.path.join(root, "index"),
        "qzt.session.secure": "false",
        # the realtime server notices a signed-out session within half a second
        "qzt.realtime.session_check": "0.5",
    }
    settings = settings_mod.load(raw, environ={})
    # The sample data hashes the demo password with the configured hasher; real
    # argon2id, cheap parameters, so the login journey stays quick.
    settings["qzt.password_hasher"] = Argon2PasswordHasher(
        time_cost=1, memory_cost=64, parallelism=1
    )
    return settings


def build_database(settings: dict[str, Any]) -> Engine:
    """Migrate a fresh database with Alembic and commit the sample data into it."""
    from alembic import command

    from portal.cli import alembic_config
    from portal.sampledata import load_sample_data

    engine = make_engine(settings)
    cfg = alembic_config(settings)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with Session(engine) as db:
        load_sample_data(db, settings)
        db.commit()
    return engine


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not os.path.exists(CHROMIUM):
        require_service(f"Chromium not installed at {CHROMIUM}")
    settings = e2e_settings(str(tmp_path_factory.mktemp("e2e")))
    engine = build_database(settings)
    # The portal and the realtime server each need the other's address (pages connect
    # to the realtime server, which admits only the portal's Origin): bind the portal
    # first, start the realtime server, then build the app (tests/e2e/realtime.py).
    app = DeferredApp()
    server = LiveServer(app)
    realtime = RealtimeThread(settings, origins=[server.url])
    settings.update(realtime.portal_settings())
    app.app = main({}, **{**settings, "qzt.engine": engine})
    try:
        yield Site(server.url, engine, settings, realtime)
    finally:
        server.stop()
        realtime.stop()
        engine.dispose()


# Per module, not per session: Playwright's sync API keeps an event loop running in
# the main thread while it is open, and the tests after the browser tests (realtime
# clients, aiortc peers) call asyncio.run, which refuses to start inside one.
@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, site: Site, viewport: dict[str, int]) -> Iterator[tuple[Any, PageLog]]:
    context = browser.new_context(viewport=viewport, base_url=site.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log = PageLog()
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: log.errors.append(f"uncaught: {exc}"))
    try:
        yield page, log
    finally:
        context.close()


@pytest.fixture
def desktop(browser: Any, site: Site) -> Iterator[tuple[Any, PageLog]]:
    """A fresh browser context (no cookies, no storage) at 1280×900."""
    yield from _open(browser, site, DESKTOP)


@pytest.fixture
def phone(browser: Any, site: Site) -> Iterator[tuple[Any, PageLog]]:
    """A fresh browser context at a phone's 375×740."""
    yield from _open(browser, site, PHONE)


@pytest.fixture(scope="session")
def sample_item_id(site: Site) -> int:
    """A published regulation: the item page with the most on it (文号, validity table)."""
    from portal.content.models import ContentItem

    stmt = (
        select(ContentItem.id)
        .where(ContentItem.section == "regulation", ContentItem.state == "published")
        .order_by(ContentItem.published_at.desc())
        .limit(1)
    )
    found = site.scalar(stmt)
    assert found is not None, "the sample data has no published regulation"
    return int(found)
