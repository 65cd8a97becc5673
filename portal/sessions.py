"""Server-side sessions stored in the database.

Why not a signed cookie session: the rules we follow (ASVS L2, 等保 level 3) require
that logout, an idle timeout, an absolute lifetime and disabling an account end a
session at once, which only works when the server can forget a session. The cookie
carries a random token; the table keys rows by its SHA-256 so a leaked table does
not leak live tokens. Changes are written by a tween inside the request's
transaction, so a session write commits or aborts with the view's own work.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import ISession
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import JSON, Integer, String, delete, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from zope.interface import implementer

from portal.clock import IClock
from portal.db import Base


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key: this module knows no domain. Accounts deletes a user's rows
    # itself when it disables the account (see end_sessions_of).
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@implementer(ISession)
class DatabaseSession(dict[str, Any]):
    """A dict that knows whether it must be written back, plus flash and CSRF."""

    def __init__(self, row: WebSession | None, token: str | None, now: datetime) -> None:
        super().__init__(row.data if row else {})
        self.row = row
        self.token = token
        self.new = row is None
        self.created = (row.created_at if row else now).timestamp()
        self.dirty = False
        self.invalidated = False
        #: the browser sent a cookie that names no live session (expired, ended)
        self.stale_cookie = False
        self.old_rows: list[WebSession] = []

    # -- change tracking ---------------------------------------------------
    def changed(self) -> None:
        self.dirty = True

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.dirty = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.dirty = True

    def pop(self, key: str, *default: Any) -> Any:
        self.dirty = self.dirty or key in self
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.dirty = self.dirty or key not in self
        return super().setdefault(key, default)

    def update(self, *args: Any, **kw: Any) -> None:
        super().update(*args, **kw)
        self.dirty = True

    def clear(self) -> None:
        super().clear()
        self.dirty = True

    # -- lifecycle -----------------------------------------------------------
    def invalidate(self) -> None:
        """Forget everything and drop the stored row (logout)."""
        if self.row is not None:
            self.old_rows.append(self.row)
        self.row = None
        self.token = None
        super().clear()
        self.invalidated = True
        self.dirty = False

    def regenerate(self) -> None:
        """Keep the data under a new id (login): the old id is worthless from now on."""
        data = dict(self)
        self.invalidate()
        super().update(data)
        self.invalidated = False
        self.dirty = True

    # -- flash -------------------------------------------------------------
    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        key = "_f_" + queue
        messages = list(self.get(key, []))
        if allow_duplicate or msg not in messages:
            messages.append(msg)
            self[key] = messages

    def pop_flash(self, queue: str = "") -> list[Any]:
        return list(self.pop("_f_" + queue, []))

    def peek_flash(self, queue: str = "") -> list[Any]:
        return list(self.get("_f_" + queue, []))

    # -- CSRF --------------------------------------------------------------
    def new_csrf_token(self) -> str:
        token = secrets.token_urlsafe(32)
        self["_csrft_"] = token
        return token

    def get_csrf_token(self) -> str:
        token = self.get("_csrft_")
        return token if isinstance(token, str) else self.new_csrf_token()


class SessionStore:
    """Loads and saves :class:`DatabaseSession` objects; the policy lives in settings."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.cookie_name = settings["qzt.session.cookie_name"]
        self.secure = settings["qzt.session.secure"]
        if self.secure and not self.cookie_name.startswith("__Host-"):
            # __Host- binds the cookie to this exact origin, path / and HTTPS.
            self.cookie_name = "__Host-" + self.cookie_name
        self.idle = timedelta(seconds=settings["qzt.session.idle_timeout"])
        self.absolute = timedelta(seconds=settings["qzt.session.absolute_lifetime"])
        self.touch = timedelta(seconds=settings["qzt.session.touch_interval"])

    def load(self, request: Request) -> DatabaseSession:
        now = request.find_service(IClock).now()
        token = request.cookies.get(self.cookie_name)
        row = None
        if token and len(token) < 100:
            row = request.dbsession.get(WebSession, _digest(token))
            if row is not None and self.expired(row, now):
                request.dbsession.delete(row)
                row = None
        session = DatabaseSession(row, token if row else None, now)
        session.stale_cookie = bool(token) and row is None
        if row is not None and now - row.last_seen_at > self.touch:
            session.dirty = True  # refresh last_seen, which pushes the idle deadline
        return session

    def expired(self, row: WebSession, now: datetime) -> bool:
        return now - row.last_seen_at > self.idle or now - row.created_at > self.absolute

    def save(self, request: Request, session: DatabaseSession, response: Response) -> None:
        db: Session = request.dbsession
        if session.row is not None and not _stored(session.row):
            # end_sessions_of() removed this very session while the request ran
            # (an account disabled by its own holder): it ends here as well.
            session.invalidate()
        for old in session.old_rows:
            # A row already deleted in bulk (a password change ends every session,
            # then login regenerates this one) must not be deleted twice.
            if _stored(old):
                db.delete(old)
        session.old_rows.clear()
        if not session.dirty:
            if session.invalidated or session.stale_cookie:
                # Drop a cookie that names nothing, so the browser stops sending it
                # and anonymous pages become cacheable again.
                response.delete_cookie(self.cookie_name, path="/")
            return
        now = request.find_service(IClock).now()
        if session.row is None:
            session.token = secrets.token_urlsafe(32)
            session.row = WebSession(id=_digest(session.token), created_at=now, last_seen_at=now)
            db.add(session.row)
            self.set_cookie(response, session.token)
        session.row.data = dict(session)
        session.row.user_id = session.get("uid")
        session.row.last_seen_at = now
        db.flush()

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            self.cookie_name,
            token,
            path="/",
            httponly=True,
            secure=self.secure,
            samesite="Lax",
        )


def current_session_id(request: Request) -> str | None:
    """The id of the request's stored session row (a digest, not the cookie), if any."""
    session = request.session
    if isinstance(session, DatabaseSession) and session.row is not None:
        return session.row.id
    return None


def _stored(row: WebSession) -> bool:
    return bool(inspect(row).persistent)


def end_sessions_of(db: Session, user_id: int) -> None:
    """End every session of a user: password change elsewhere, account disabled."""
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))


def purge_expired(db: Session, settings: dict[str, Any], now: datetime) -> int:
    store = SessionStore(settings)
    stale = select(WebSession.id).where(
        (WebSession.last_seen_at < now - store.idle)
        | (WebSession.created_at < now - store.absolute)
    )
    ids = list(db.scalars(stale))
    if ids:
        db.execute(delete(WebSession).where(WebSession.id.in_(ids)))
    return len(ids)


def session_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Any:
    store: SessionStore = registry["session_store"]

    def session_tween(request: Request) -> Response:
        response = handler(request)
        # Only touch the session if the request used it: anonymous page views stay
        # free of session rows, cookies and writes (and stay cacheable).
        session = request.__dict__.get("session")
        if isinstance(session, DatabaseSession):
            store.save(request, session, response)
        return response

    return session_tween


def includeme(config: Configurator) -> None:
    store = SessionStore(config.get_settings())
    config.registry["session_store"] = store
    config.set_session_factory(store.load)
    # Inside the transaction (under pyramid_tm), outside exception views, so the
    # session row is written in the same commit as the view's work.
    config.add_tween(
        "portal.sessions.session_tween_factory",
        under="pyramid_tm.tm_tween_factory",
        over="pyramid.tweens.excview_tween_factory",
    )
