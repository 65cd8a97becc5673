"""Cross-cutting web concerns: templates, static files, security headers, HTTP caching, errors."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from pyramid.config import Configurator
from pyramid.events import ApplicationCreated, subscriber
from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.view import forbidden_view_config, notfound_view_config, view_config

from portal.clock import local
from portal.i18n import N_

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' {realtime}",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Any:
    hsts = registry.settings["qzt.hsts"]
    # Scripts may open websockets to the configured realtime server only, not anywhere.
    realtime = urlsplit(registry.settings.get("qzt.realtime.public_url", ""))
    origin = f" {realtime.scheme}://{realtime.netloc}" if realtime.netloc else ""
    csp = CSP.replace(" {realtime}", origin)

    def tween(request: Request) -> Response:
        response = _undecodable_query(request) or handler(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        _cache_policy(request, response)
        return response

    return tween


BAD_QUERY_PAGE = """<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><title>400</title>
<h1>网址无法识别</h1><p>网址中含有无法识别的字符，请检查后重试。</p>
<p><a href="/">返回首页</a></p></html>"""


def _undecodable_query(request: Request) -> Response | None:
    """A 400 for a query string that is not UTF-8 (``/?q=%FF``).

    Every view, and the locale negotiator before them, reads ``request.GET``; WebOb
    raises UnicodeDecodeError on such bytes, which would be a 500 on any page. The
    answer is plain HTML: the templates themselves would read the query again.
    """
    try:
        request.GET  # noqa: B018 (parsing is the check)
    except UnicodeDecodeError:
        return Response(BAD_QUERY_PAGE, status=400, content_type="text/html", charset="utf-8")
    return None


def _cache_policy(request: Request, response: Response) -> None:
    """Anonymous HTML gets a validator and must revalidate; anything personal is private.

    A strong ETag from the body lets a browser or the nginx in front answer a repeat
    visit with 304 without sending the page again; ``conditional_response`` makes
    WebOb compare If-None-Match for us.
    """
    if response.cache_control.public or response.cache_control.max_age is not None:
        return  # the view (static files, attachments) decided already
    personal = request.__dict__.get("session") is not None or request.authenticated_userid
    if personal or request.method not in ("GET", "HEAD") or response.status_code != 200:
        response.cache_control.private = True
        response.cache_control.no_store = True
        return
    if response.content_type == "text/html" and response.etag is None:
        response.md5_etag()
        response.cache_control.no_cache = True
        response.conditional_response = True
        response.vary = ("Cookie", "Accept-Language")


@subscriber(ApplicationCreated)
def freeze_startup_objects(event: ApplicationCreated) -> None:
    """Keep the garbage collector away from the objects the app was built from.

    Why: the imported modules and the configured app (registry, mappers, views)
    are a few hundred thousand objects that live as long as the process, and every
    full collection walked all of them: the benchmark saw pauses over 100 ms, each
    stalling every request in flight. Frozen, they are left out of collections for
    good; the per-request garbage is collected as before.
    """
    gc.collect()
    gc.freeze()


def stored_file(request: Request, file_id: str, filename: str, media_type: str) -> FileResponse:
    """An uploaded file from the portal's storage (``IFileStorage``), for its reader only.

    Always a download, never rendered inline: an uploaded file cannot act as a page
    (nosniff comes from the security headers tween). Private and not cached, since
    every caller serves it under a permission.
    """
    from portal.content.files import IFileStorage

    path = request.find_service(IFileStorage).path(file_id)
    response = FileResponse(path, request=request, content_type=media_type)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.cache_control.private = True
    response.cache_control.max_age = 0
    return response


def fmt_date(value: date | datetime | None, with_time: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value)
        return value.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    return value.strftime("%Y-%m-%d")


# Pyramid's own ``append_slash=`` wraps this view in a way that re-applies the CSRF
# check: a POST with a stale token to a URL that 404s then raised BadCSRFToken from
# inside the error view and reached the visitor as a 500. So the redirect to the
# slashed URL is done here, for safe methods only.
@notfound_view_config(renderer="portal:templates/layout/error.jinja2")
def not_found(request: Request) -> Any:
    path = request.path_info
    if request.method in ("GET", "HEAD") and not path.endswith("/"):
        mapper = request.registry.getUtility(IRoutesMapper)
        if any(route.match(path + "/") is not None for route in mapper.get_routes()):
            query = "?" + request.query_string if request.query_string else ""
            return HTTPSeeOther(location=request.path + "/" + query)
    request.response.status = 404
    return {"code": 404, "message": N_("The page you asked for does not exist.")}


@forbidden_view_config(renderer="portal:templates/layout/error.jinja2")
def forbidden(exc: HTTPForbidden, request: Request) -> Any:
    if request.authenticated_userid is None and request.method == "GET":
        return HTTPSeeOther(request.route_url("accounts.login", _query={"next": request.path_qs}))
    request.response.status = 403
    return {"code": 403, "message": N_("You do not have permission to see this page.")}


@view_config(route_name="healthz", renderer="json")
def healthz(request: Request) -> dict[str, str]:
    request.dbsession.execute(__import__("sqlalchemy").text("SELECT 1"))
    return {"status": "ok"}


def flash_messages(request: Request, queue: str = "") -> list[Any]:
    """Pending flash messages, without opening a session for a visitor who has none."""
    if request.registry["session_store"].cookie_name not in request.cookies:
        return []
    return list(request.session.pop_flash(queue))


@view_config(
    context=BadCSRFToken, renderer="portal:templates/layout/error.jinja2", require_csrf=False
)
@view_config(
    context=BadCSRFOrigin, renderer="portal:templates/layout/error.jinja2", require_csrf=False
)
def bad_csrf(request: Request) -> dict[str, Any]:
    request.response.status = 400
    return {"code": 400, "message": N_("Your form expired. Please reload the page and try again.")}


def includeme(config: Configurator) -> None:
    config.include("pyramid_jinja2")
    config.include("pyramid_chameleon")  # deform's widget templates
    settings = config.get_settings()
    settings.setdefault("jinja2.i18n.domain", "qzt")
    settings.setdefault("jinja2.trim_blocks", True)
    settings.setdefault("jinja2.lstrip_blocks", True)
    config.add_jinja2_renderer(".jinja2")
    config.commit()
    env = config.get_jinja2_environment(".jinja2")
    assert env is not None
    env.filters["date"] = fmt_date
    config.add_request_method(flash_messages, "flash_messages")
    config.add_static_view("static", "static:", cache_max_age=3600)
    config.add_tween("portal.web.security_headers_tween_factory")
    # Anonymous pages that the headers above call shareable are kept in memory and
    # served before Pyramid builds a request, for as long as the database says
    # nothing shown on them changed (portal/pagecache.py).
    config.include("portal.pagecache")
    config.scan("portal.web")
