"""Server-side sessions: what opens one, what ends one, and that writes ride the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import webtest
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.interfaces import ITweens
from pyramid.response import Response
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal import main
from portal.accounts.services import AccountService
from portal.db import make_engine
from portal.sessions import (
    DatabaseSession,
    SessionStore,
    WebSession,
    end_sessions_of,
    purge_expired,
)
from tests import factories
from tests.timeline import now

COOKIE = "qzt_session"


def rows(dbsession: Session) -> list[WebSession]:
    return list(dbsession.scalars(select(WebSession)))


def browser(app: Any, testapp: webtest.TestApp) -> webtest.TestApp:
    """A second browser on the same app and test transaction."""
    return webtest.TestApp(app, extra_environ=testapp.extra_environ)


def is_signed_in(client: webtest.TestApp) -> bool:
    response = client.get("/account", expect_errors=True)
    if response.status_int == 303:
        assert "/login" in response.location
        return False
    assert response.status_int == 200
    return True


# -- the session object ---------------------------------------------------------------------


def fresh() -> DatabaseSession:
    return DatabaseSession(None, None, now())


def test_reading_leaves_a_session_clean():
    session = fresh()
    assert session.get("uid") is None
    assert session.peek_flash() == []
    assert session.pop_flash() == []
    assert session.pop("missing", None) is None
    assert not session.dirty


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.__setitem__("a", 1),
        lambda s: s.setdefault("a", 1),
        lambda s: s.update(a=1),
        lambda s: s.flash("hello"),
        lambda s: s.new_csrf_token(),
        lambda s: s.get_csrf_token(),  # the first call creates the token
        lambda s: s.changed(),
    ],
)
def test_every_kind_of_change_marks_it_dirty(change):
    session = fresh()
    change(session)
    assert session.dirty


def test_removals_mark_it_dirty_only_when_something_was_there():
    session = DatabaseSession(
        WebSession(id="x", data={"a": 1, "b": 2}, created_at=now(), last_seen_at=now()),
        "token",
        now(),
    )
    session.pop("missing", None)
    assert not session.dirty
    session.pop("a")
    assert session.dirty
    session.dirty = False
    del session["b"]
    assert session.dirty


def test_flash_queues_are_separate_and_popped_once():
    session = fresh()
    session.flash("saved", "success")
    session.flash("saved", "success", allow_duplicate=False)
    session.flash("note")
    assert session.peek_flash("success") == ["saved"]
    assert session.pop_flash("success") == ["saved"]
    assert session.pop_flash("success") == []
    assert session.pop_flash() == ["note"]


def test_csrf_token_is_stable_until_renewed():
    session = fresh()
    token = session.get_csrf_token()
    assert len(token) >= 40
    assert session.get_csrf_token() == token
    assert session.new_csrf_token() != token


def test_regenerate_keeps_data_but_drops_the_stored_row():
    row = WebSession(id="x", data={"uid": 7}, created_at=now(), last_seen_at=now())
    session = DatabaseSession(row, "token", now())
    session.regenerate()
    assert dict(session) == {"uid": 7}
    assert session.row is None
    assert session.token is None
    assert session.old_rows == [row]
    assert session.dirty


def test_invalidate_forgets_everything():
    row = WebSession(id="x", data={"uid": 7}, created_at=now(), last_seen_at=now())
    session = DatabaseSession(row, "token", now())
    session.invalidate()
    assert dict(session) == {}
    assert session.invalidated
    assert session.old_rows == [row]
    assert not session.dirty


# -- the store's settings ---------------------------------------------------------------------


def test_secure_sessions_get_the_host_prefix(settings):
    assert SessionStore(settings).cookie_name == COOKIE
    secure = SessionStore({**settings, "qzt.session.secure": True})
    assert secure.cookie_name == "__Host-qzt_session"
    already = {**settings, "qzt.session.secure": True, "qzt.session.cookie_name": "__Host-s"}
    assert SessionStore(already).cookie_name == "__Host-s"


# -- purge and ending ---------------------------------------------------------------------------


def add_row(
    dbsession: Session,
    ident: str,
    created_ago: timedelta,
    seen_ago: timedelta,
    user_id: int | None = None,
) -> None:
    dbsession.add(
        WebSession(
            id=ident,
            user_id=user_id,
            data={},
            created_at=now() - created_ago,
            last_seen_at=now() - seen_ago,
        )
    )
    dbsession.flush()


def test_purge_removes_idle_and_too_old_sessions_only(dbsession, settings):
    minutes, hours = timedelta(minutes=1), timedelta(hours=1)
    add_row(dbsession, "fresh", 2 * hours, 5 * minutes)
    add_row(dbsession, "almost-idle", 2 * hours, 30 * minutes)  # exactly at the limit
    add_row(dbsession, "idle", 2 * hours, 31 * minutes)
    add_row(dbsession, "almost-old", 12 * hours, 1 * minutes)
    add_row(dbsession, "too-old", 12 * hours + minutes, 1 * minutes)

    assert purge_expired(dbsession, settings, now()) == 2

    assert sorted(r.id for r in rows(dbsession)) == ["almost-idle", "almost-old", "fresh"]
    assert purge_expired(dbsession, settings, now()) == 0


def test_purge_follows_the_settings(dbsession, settings):
    add_row(dbsession, "ten-minutes-idle", timedelta(hours=1), timedelta(minutes=10))
    shorter = {**settings, "qzt.session.idle_timeout": 5 * 60}
    assert purge_expired(dbsession, shorter, now()) == 1


def test_end_sessions_of_touches_one_user(dbsession):
    add_row(dbsession, "mine-1", timedelta(0), timedelta(0), user_id=1)
    add_row(dbsession, "mine-2", timedelta(0), timedelta(0), user_id=1)
    add_row(dbsession, "theirs", timedelta(0), timedelta(0), user_id=2)
    add_row(dbsession, "anonymous", timedelta(0), timedelta(0))
    end_sessions_of(dbsession, 1)
    assert sorted(r.id for r in rows(dbsession)) == ["anonymous", "theirs"]


def test_a_session_ended_during_its_own_request_is_not_resurrected(app, dbsession):
    """end_sessions_of() on the current user, then a flash: the session ends, no 500."""
    from pyramid.request import Request, apply_request_extensions

    store: SessionStore = app.registry["session_store"]
    token = "t" * 43
    dbsession.add(
        WebSession(
            id=hashlib.sha256(token.encode()).hexdigest(),
            user_id=5,
            data={"uid": 5},
            created_at=now(),
            last_seen_at=now(),
        )
    )
    dbsession.flush()
    request = Request.blank("/", cookies={COOKIE: token})
    request.registry = app.registry
    apply_request_extensions(request)
    request.dbsession = dbsession
    session = store.load(request)
    assert session["uid"] == 5

    end_sessions_of(dbsession, 5)
    session.flash("saved")
    response = Response()
    store.save(request, session, response)

    assert rows(dbsession) == []
    assert response.headers["Set-Cookie"].startswith(f"{COOKIE}=;")


# -- through the application ---------------------------------------------------------------------


def test_anonymous_page_views_open_no_session(testapp, dbsession):
    item = factories.ContentItemFactory()
    dept = factories.DepartmentFactory()
    for url in (
        "/",
        "/policies",
        f"/content/{item.id}",
        "/departments",
        f"/departments/{dept.code}",
    ):
        response = testapp.get(url)
        assert "Set-Cookie" not in response.headers, url
    assert rows(dbsession) == []
    assert testapp.cookies == {}


def test_login_page_opens_a_session_for_its_csrf_token(testapp, dbsession):
    response = testapp.get("/login")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "secure" not in cookie.lower()  # plain HTTP in development and tests
    token = testapp.cookies[COOKIE]
    (row,) = rows(dbsession)
    # the table keys rows by a digest: a leaked table holds no usable cookie
    assert row.id == hashlib.sha256(token.encode()).hexdigest()
    assert row.user_id is None
    assert row.data["_csrft_"] in response.text


def test_secure_setting_marks_the_cookie_and_uses_the_host_prefix(settings, engine, tm, dbsession):
    app = main({}, **{**settings, "qzt.engine": engine, "qzt.session.secure": True})
    client = webtest.TestApp(
        app,
        extra_environ={
            "HTTP_HOST": "localhost",
            "tm.active": True,
            "tm.manager": tm,
            "qzt.dbsession": dbsession,
            "wsgi.url_scheme": "https",
        },
    )
    cookie = client.get("/login").headers["Set-Cookie"]
    assert cookie.startswith("__Host-qzt_session=")
    assert "secure" in cookie.lower()
    assert "Path=/" in cookie
    assert "Domain" not in cookie  # __Host- cookies may not name a domain


def test_login_regenerates_the_session_id(app, testapp, login, dbsession):
    user = factories.UserFactory()
    testapp.get("/login")
    before = testapp.cookies[COOKIE]

    login(user)

    after = testapp.cookies[COOKIE]
    assert after != before
    (row,) = rows(dbsession)
    assert row.user_id == user.id
    assert row.id == hashlib.sha256(after.encode()).hexdigest()
    fixation = browser(app, testapp)
    fixation.set_cookie(COOKIE, before)  # an attacker who planted the old id
    assert not is_signed_in(fixation)
    assert is_signed_in(testapp)


def test_idle_timeout_ends_the_session(testapp, login, dbsession, clock):
    login(factories.UserFactory())
    clock.advance(minutes=29)
    assert is_signed_in(testapp)

    clock.advance(minutes=31)

    assert not is_signed_in(testapp)
    assert [r for r in rows(dbsession) if r.user_id is not None] == []
    assert COOKIE not in testapp.cookies  # the dead cookie was cleared


def test_activity_extends_idle_time_but_not_the_absolute_lifetime(testapp, login, clock):
    login(factories.UserFactory())
    for _ in range(35):  # a request every 20 minutes: 11 h 40 min
        clock.advance(minutes=20)
        assert is_signed_in(testapp)
    clock.advance(minutes=21)  # 12 h 1 min after login
    assert not is_signed_in(testapp)


def test_last_seen_is_written_once_per_touch_interval(testapp, login, dbsession, clock, engine):
    user = factories.UserFactory()
    login(user)
    (row,) = rows(dbsession)
    logged_in_at = row.last_seen_at
    updates: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE web_sessions"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            clock.advance(seconds=15)
            assert is_signed_in(testapp)
        assert updates == []
        assert row.last_seen_at == logged_in_at

        clock.advance(seconds=20)  # 65 s since the last write
        assert is_signed_in(testapp)
        assert len(updates) == 1
        assert row.last_seen_at == clock.now()
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_logout_is_a_post_and_ends_the_session_on_the_server(app, testapp, login, dbsession):
    user = factories.UserFactory()
    login(user)
    token = testapp.cookies[COOKIE]

    page = testapp.get("/logout")  # a GET only shows the button
    assert is_signed_in(testapp)
    (button,) = {f.action: f for f in page.forms.values() if f.method.upper() == "POST"}.values()
    response = button.submit()

    assert response.status_int == 303
    assert [r for r in rows(dbsession) if r.user_id == user.id] == []
    assert COOKIE not in testapp.cookies
    replay = browser(app, testapp)
    replay.set_cookie(COOKIE, token)
    assert not is_signed_in(replay)


def test_disabling_an_account_ends_all_its_sessions(
    app, testapp, login, dbsession, clock, settings
):
    user = factories.UserFactory()
    login(user)
    laptop = browser(app, testapp)
    page = laptop.get("/login")
    form = page.forms["login"]
    form.set("login", user.login, index=0)
    form["password"] = factories.PASSWORD
    form.submit()
    assert is_signed_in(laptop)

    accounts = AccountService(dbsession, settings["qzt.password_hasher"], clock, settings)
    accounts.set_active(user, False)

    assert not is_signed_in(testapp)
    assert not is_signed_in(laptop)


def test_a_disabled_user_is_anonymous_even_with_a_live_row(testapp, login, dbsession):
    user = factories.UserFactory()
    login(user)
    user.is_active = False  # changed behind the service's back
    dbsession.flush()
    assert not is_signed_in(testapp)
    assert [r for r in rows(dbsession) if r.user_id == user.id] == []


def test_an_unknown_cookie_is_cleared_and_opens_nothing(testapp, dbsession):
    testapp.set_cookie(COOKIE, "made-up-token")
    response = testapp.get("/")
    assert response.headers["Set-Cookie"].startswith(f"{COOKIE}=;")
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert COOKIE not in testapp.cookies
    assert rows(dbsession) == []


# -- the tween's place in the transaction ----------------------------------------------------------


def test_session_tween_runs_inside_the_transaction_and_outside_exception_views(app):
    names = [name for name, _ in app.registry.queryUtility(ITweens).implicit()]
    tm = names.index("pyramid_tm.tm_tween_factory")
    session = names.index("portal.sessions.session_tween_factory")
    excview = names.index("pyramid.tweens.excview_tween_factory")
    # pyramid_tm calls the session tween, which calls the exception view tween:
    # the session is saved in the view's transaction, error pages included.
    assert tm < session < excview


@pytest.fixture
def committing_app(tmp_path, settings) -> Iterator[tuple[webtest.TestApp, Any]]:
    """The session machinery with a real pyramid_tm transaction on a database of its own.

    The shared ``testapp`` runs inside a test-owned, rolled-back transaction, so it
    cannot show what is committed. This app commits for real, and its views misbehave
    on purpose after writing to the session.
    """
    engine = make_engine({"sqlalchemy.url": f"sqlite:///{tmp_path}/sessions.sqlite"})
    WebSession.__table__.create(engine)
    config = Configurator(settings={**settings, "qzt.engine": engine})
    config.include("pyramid_services")
    config.include("portal.clock")
    config.include("portal.db")
    config.include("portal.sessions")

    def write(request: Any) -> Response:
        request.session["step"] = request.matchdict["step"]
        if request.matchdict["how"] == "crash":
            raise RuntimeError("the view failed after writing to the session")
        if request.matchdict["how"] == "forbid":
            raise HTTPForbidden()  # rendered by the exception view
        return Response("ok")

    config.add_route("write", "/write/{step}/{how}")
    config.add_view(write, route_name="write")
    yield webtest.TestApp(config.make_wsgi_app()), engine
    engine.dispose()


def stored(engine: Any) -> list[dict[str, Any]]:
    with Session(engine) as db:
        return [r.data for r in db.scalars(select(WebSession))]


def test_a_session_write_is_committed_with_the_request(committing_app):
    client, engine = committing_app
    client.get("/write/one/ok")
    assert stored(engine) == [{"step": "one"}]


def test_a_failing_request_leaves_no_half_written_session(committing_app):
    client, engine = committing_app
    client.get("/write/one/ok")

    with pytest.raises(RuntimeError):
        client.get("/write/two/crash")
    client.get("/write/three/forbid", status=403)

    assert stored(engine) == [{"step": "one"}]


def test_a_failing_first_request_stores_no_session(committing_app):
    client, engine = committing_app
    with pytest.raises(RuntimeError):
        client.get("/write/one/crash")
    client.get("/write/two/forbid", status=403)
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(WebSession)) == 0
