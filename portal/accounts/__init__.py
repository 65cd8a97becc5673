"""Accounts: users, roles, enterprises; login, registration, profile."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from portal.accounts.interfaces import IAccountService
from portal.accounts.passwords import Argon2PasswordHasher, IPasswordHasher
from portal.clock import IClock


def _user(request: Request) -> Any:
    """The signed-in user, or None. Anonymous requests never open a session."""
    from portal.accounts.models import User

    if request.registry["session_store"].cookie_name not in request.cookies:
        return None
    uid = request.session.get("uid")
    if uid is None:
        return None
    user = request.dbsession.get(User, uid)
    if user is None or not user.is_active:
        request.session.invalidate()
        return None
    return user


def _account_service(context: Any, request: Request) -> Any:
    from portal.accounts.services import AccountService

    return AccountService(
        request.dbsession,
        request.find_service(IPasswordHasher),
        request.find_service(IClock),
        request.registry.settings,
    )


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    hasher = settings.get("qzt.password_hasher") or Argon2PasswordHasher()
    config.register_service(hasher, IPasswordHasher)
    config.register_service_factory(_account_service, IAccountService)
    config.add_request_method(_user, "user", reify=True)
    config.scan("portal.accounts.views")
