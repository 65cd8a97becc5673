"""Account changes. The only code that writes users and enterprises."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.accounts.interfaces import AccountError, IAccountService
from portal.accounts.models import Enterprise, User
from portal.accounts.passwords import IPasswordHasher
from portal.accounts.validation import normalise_phone, normalise_uscc, password_error
from portal.clock import IClock
from portal.roles import STAFF_ROLES, Role
from portal.sessions import end_sessions_of

# Verifying against a dummy hash when the login is unknown keeps the response time
# of "no such user" equal to "wrong password", so logins cannot be enumerated. The
# hash is made by the hasher in use, once: a constant made with other parameters
# would cost a different time and give the game away after a parameter change.
_DUMMY_HASHES: WeakKeyDictionary[IPasswordHasher, str] = WeakKeyDictionary()


def _dummy_hash(hasher: IPasswordHasher) -> str:
    if hasher not in _DUMMY_HASHES:
        _DUMMY_HASHES[hasher] = hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[hasher]


@implementer(IAccountService)
class AccountService:
    def __init__(
        self, db: Session, hasher: IPasswordHasher, clock: IClock, settings: dict[str, Any]
    ) -> None:
        self.db = db
        self.hasher = hasher
        self.clock = clock
        self.max_failures: int = settings["qzt.login.max_failures"]
        self.lock_minutes: int = settings["qzt.login.lock_minutes"]
        self.min_length: int = settings["qzt.password.min_length"]
        self.staff_min_length: int = settings["qzt.password.staff_min_length"]

    # -- login ---------------------------------------------------------------------
    def find_by_login(self, login: str) -> User | None:
        login = login.strip()
        return self.db.scalar(
            select(User).where(func.lower(User.login) == login.lower())
        ) or self.db.scalar(select(User).where(func.lower(User.email) == login.lower()))

    def authenticate(self, login: str, password: str) -> User:
        user = self.find_by_login(login) if login.strip() else None
        if user is None:
            self.hasher.verify(_dummy_hash(self.hasher), password)
            raise AccountError("login", "The user name or password is wrong.")
        now = self.clock.now()
        if user.locked_until is not None and user.locked_until > now:
            raise AccountError(
                "login",
                "Too many failed attempts: this account is locked for ${minutes} minutes.",
                minutes=self.lock_minutes,
            )
        if not self.hasher.verify(user.password_hash, password) or not user.is_active:
            self._count_failure(user)
            raise AccountError("login", "The user name or password is wrong.")
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        if self.hasher.needs_rehash(user.password_hash):
            user.password_hash = self.hasher.hash(password)
        return user

    def _count_failure(self, user: User) -> None:
        user.failed_logins += 1
        if user.failed_logins >= self.max_failures:
            user.locked_until = self.clock.now() + timedelta(minutes=self.lock_minutes)
            user.failed_logins = 0

    # -- registration ----------------------------------------------------------------
    def min_password_length(self, subject: User | Iterable[Role]) -> int:
        roles = subject.roles if isinstance(subject, User) else set(subject)
        return self.staff_min_length if roles & STAFF_ROLES else self.min_length

    def _check_unique(self, login: str, email: str | None) -> None:
        if self.find_by_login(login) is not None:
            raise AccountError("login", "This user name is taken.")
        # find_by_login, not an e-mail lookup: login accepts either, so an address
        # that is someone's user name would make one of the two unreachable.
        if email and self.find_by_login(email) is not None:
            raise AccountError("email", "This e-mail address is already registered.")

    def _check_password(self, password: str, roles: set[Role]) -> None:
        error = password_error(password, self.min_password_length(roles))
        if error:
            raise AccountError("password", error, n=self.min_password_length(roles))

    def _new_user(self, data: dict[str, Any], roles: set[Role]) -> User:
        self._check_unique(data["login"], data.get("email"))
        self._check_password(data["password"], roles)
        now = self.clock.now()
        user = User(
            login=data["login"].strip(),
            email=(data.get("email") or None),
            display_name=data["display_name"].strip(),
            phone=normalise_phone(data.get("phone") or ""),
            title=data.get("title") or "",
            password_hash=self.hasher.hash(data["password"]),
            department_id=data.get("department_id"),
            created_at=now,
            password_changed_at=now,
            failed_logins=0,
            is_active=True,
        )
        user.set_roles(roles)
        self.db.add(user)
        return user

    def register_enterprise(self, data: dict[str, Any]) -> User:
        uscc = normalise_uscc(data["uscc"])
        if self.db.scalar(select(Enterprise.id).where(Enterprise.uscc == uscc)):
            raise AccountError(
                "uscc",
                "This enterprise is already registered; ask its account holder to add you.",
            )
        user = self._new_user(data, {Role.ENTERPRISE})
        enterprise = Enterprise(
            name=data["enterprise_name"].strip(),
            uscc=uscc,
            industry=data["industry"],
            contact_person=data.get("contact_person") or data["display_name"],
            contact_phone=normalise_phone(data["contact_phone"]),
            address=data.get("address") or "",
            created_at=self.clock.now(),
        )
        self.db.add(enterprise)
        user.enterprise = enterprise
        user.is_enterprise_admin = True
        self.db.flush()
        return user

    def add_colleague(self, enterprise: Enterprise, data: dict[str, Any]) -> User:
        user = self._new_user(data, {Role.ENTERPRISE})
        user.enterprise = enterprise
        self.db.flush()
        return user

    def create_user(self, data: dict[str, Any]) -> User:
        roles = {Role(r) for r in data["roles"]}
        user = self._new_user(data, roles)
        self.db.flush()
        return user

    # -- changes ---------------------------------------------------------------------
    def change_password(self, user: User, old: str, new: str) -> None:
        if not self.hasher.verify(user.password_hash, old):
            raise AccountError("old_password", "The current password is wrong.")
        self._check_password(new, user.roles)
        if self.hasher.verify(user.password_hash, new):
            raise AccountError("password", "The new password must differ from the current one.")
        self.set_password(user, new)

    def update_profile(self, user: User, data: dict[str, Any]) -> None:
        """The user's own edit of name, e-mail and phone."""
        email = (data.get("email") or "").strip() or None
        if email and email.lower() != (user.email or "").lower():
            other = self.find_by_login(email)
            if other is not None and other.id != user.id:
                raise AccountError("email", "This e-mail address is already registered.")
        user.display_name = data["display_name"].strip()
        user.email = email
        user.phone = normalise_phone(data.get("phone") or "")

    def set_password(self, user: User, new: str) -> None:
        user.password_hash = self.hasher.hash(new)
        user.password_changed_at = self.clock.now()
        end_sessions_of(self.db, user.id)

    def set_active(self, user: User, active: bool) -> None:
        user.is_active = active
        if not active:
            end_sessions_of(self.db, user.id)

    def unlock(self, user: User) -> None:
        user.locked_until = None
        user.failed_logins = 0

    # -- administration --------------------------------------------------------------
    def update_user(self, user: User, data: dict[str, Any], actor: User) -> None:
        """Apply an administrator's edit of ``user``.

        ``data`` holds the fields the form had: name, e-mail, phone, active flag, and
        for government accounts title, department and roles. Every check runs before
        the first change. An administrator cannot lock themselves out: removing their
        own admin role or disabling their own account is refused.
        """
        self._check_self_edit(user, data, actor)
        email = data.get("email") or None
        if email and self.db.scalar(
            select(User.id).where(func.lower(User.email) == email.lower(), User.id != user.id)
        ):
            raise AccountError("email", "This e-mail address is already registered.")
        roles = {Role(r) for r in data["roles"]} if "roles" in data else None
        if roles is not None and (user.enterprise_id is not None or not roles <= STAFF_ROLES):
            raise AccountError("roles", "Only government roles can be given here.")
        user.display_name = data["display_name"].strip()
        user.email = email
        user.phone = normalise_phone(data.get("phone") or "")
        if roles is not None:
            user.set_roles(roles)
            user.title = data.get("title") or ""
            user.department_id = data.get("department_id")
        if "is_active" in data and bool(data["is_active"]) != user.is_active:
            self.set_active(user, bool(data["is_active"]))

    def _check_self_edit(self, user: User, data: dict[str, Any], actor: User) -> None:
        if user.id != actor.id:
            return
        if "roles" in data and Role.ADMIN in user.roles and Role.ADMIN.value not in data["roles"]:
            raise AccountError(
                "roles", "You cannot remove your own administrator role; ask another administrator."
            )
        if "is_active" in data and not data["is_active"]:
            raise AccountError("is_active", "You cannot disable your own account.")

    def reset_password(self, user: User, new: str) -> None:
        """An administrator sets ``new`` (no old password asked); ends the user's sessions."""
        self._check_password(new, user.roles)
        self.set_password(user, new)
