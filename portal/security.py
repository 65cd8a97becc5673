"""Security policy: the session's user -> principals -> ACL decision.

Knows no domain: the accounts package provides ``request.user`` (an object with
``principals``), the session store provides remember/forget. Every permission check
goes through the ACL of the context, so object-level rules live with the objects.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.security import Allowed, Denied


class Identity(Protocol):
    id: int

    @property
    def principals(self) -> list[str]: ...


def is_local_path(target: str) -> bool:
    """Whether ``target`` is a path on this site and nothing a browser reads as another host.

    Browsers treat ``\\`` like ``/`` and drop tabs and newlines before parsing, so
    ``/\\evil.com`` and ``/<TAB>/evil.com`` both mean ``//evil.com``: any backslash,
    control character or space is refused rather than cleaned. So is anything not
    ASCII: the URLs the portal makes are percent-encoded, and a raw 政策 cannot go
    into a Location header at all.
    """
    if not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or not all(0x20 < ord(c) < 0x7F for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


class SecurityPolicy:
    def __init__(self) -> None:
        self.helper = ACLHelper()

    def identity(self, request: Request) -> Identity | None:
        return request.user

    def authenticated_userid(self, request: Request) -> int | None:
        identity = self.identity(request)
        return None if identity is None else identity.id

    def effective_principals(self, request: Request) -> list[str]:
        principals = [Everyone]
        identity = self.identity(request)
        if identity is not None:
            principals.append(Authenticated)
            principals.extend(identity.principals)
        return principals

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        return self.helper.permits(context, self.effective_principals(request), permission)

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        # A fresh session id at login defeats session fixation; the cookie itself is
        # written by the session tween, so no headers are returned here.
        request.session.regenerate()
        request.session["uid"] = int(userid)
        request.session.new_csrf_token()
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        request.session.invalidate()
        return []


def includeme(config: Configurator) -> None:
    config.set_security_policy(SecurityPolicy())
    config.set_default_csrf_options(require_csrf=True)
