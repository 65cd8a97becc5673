"""HTTP-level defences on every response: security headers, caching rules, CSRF refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
import webtest
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import select

from portal import main
from portal.db import Base
from portal.roles import Role
from tests import factories
from tests.conftest import web

URLS = {
    "html": "/",
    "not found": "/no-such-page",
    "missing object": "/content/999999",
    "static": "/static/css/site.css",
    "json": "/healthz",
}


def assert_security_headers(response: webtest.TestResponse) -> None:
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("url", URLS.values(), ids=list(URLS))
def test_every_kind_of_response_carries_the_security_headers(testapp, url):
    response = testapp.get(url, expect_errors=True)
    assert response.status_int in (200, 404)
    assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # qzt.hsts is off


def test_redirects_and_error_pages_carry_them_too(testapp, dbsession):
    draft = factories.ContentItemFactory(state="draft")
    assert_security_headers(testapp.get(f"/content/{draft.id}", status=303))
    assert_security_headers(testapp.post("/logout", status=400))


@pytest.fixture
def hsts_app(settings, engine, tm, dbsession) -> webtest.TestApp:
    app = main({}, **{**settings, "qzt.engine": engine, "qzt.hsts": True})
    return web(app, tm, dbsession)


@pytest.mark.parametrize("url", URLS.values(), ids=list(URLS))
def test_hsts_is_sent_only_when_configured(hsts_app, url):
    response = hsts_app.get(url, expect_errors=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert_security_headers(response)


# -- caching ----------------------------------------------------------------------------------


def test_anonymous_html_has_an_etag_and_answers_304(testapp, dbsession):
    item = factories.ContentItemFactory()
    first = testapp.get(f"/content/{item.id}")
    etag = first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    assert "Cookie" in first.headers["Vary"]

    again = testapp.get(f"/content/{item.id}", headers={"If-None-Match": etag}, status=304)
    assert again.body == b""
    assert_security_headers(again)
    changed = testapp.get(f"/content/{item.id}", headers={"If-None-Match": '"stale"'})
    assert changed.status_int == 200


def test_static_files_are_cacheable(testapp):
    response = testapp.get(URLS["static"])
    assert response.cache_control.max_age == 3600


def private(response: webtest.TestResponse) -> bool:
    cache_control = response.headers.get("Cache-Control", "")
    return "private" in cache_control and "no-store" in cache_control


def test_pages_for_a_signed_in_user_are_never_stored(testapp, login, dbsession):
    item = factories.ContentItemFactory()
    login(factories.enterprise_user())
    for url in ("/", f"/content/{item.id}", "/account", "/account/password", "/healthz"):
        response = testapp.get(url)
        assert private(response), url
        assert "ETag" not in response.headers, url


def test_pages_with_a_session_and_errors_are_never_stored(testapp):
    assert private(testapp.get("/login"))  # holds a CSRF token
    assert private(testapp.get("/no-such-page", status=404))


# -- CSRF on every POST ----------------------------------------------------------------------------


def snapshot(dbsession: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the sessions': "no state change" made checkable."""
    dbsession.flush()
    return {
        table.name: sorted((tuple(row) for row in dbsession.execute(select(table))), key=repr)
        for table in Base.metadata.sorted_tables
        if table.name != "web_sessions"
    }


def post_routes(app: Any) -> list[str]:
    """Route names with at least one view that a POST can reach."""
    names = set()
    for entry in app.registry.introspector.get_category("views"):
        view = entry["introspectable"]
        methods = view["request_methods"]
        if view["route_name"] and (methods is None or "POST" in methods):
            names.add(view["route_name"])
    return sorted(names)


@pytest.fixture
def objects(app, dbsession, clock, settings) -> dict[str, Any]:
    """One of everything a route's URL can name."""
    from io import BytesIO

    from portal.content.files import LocalFileStorage
    from portal.content.services import ContentService

    dept = factories.DepartmentFactory()
    item = factories.ContentItemFactory(department=dept)
    content = ContentService(
        dbsession,
        clock,
        LocalFileStorage(settings["qzt.storage_dir"]),
        app.registry.notify,
        settings["qzt.upload.max_bytes"],
    )
    attachment = content.add_attachment(item, "a.pdf", BytesIO(b"%PDF-1.4\n"), None)
    return {
        "item": item,
        "attachment": attachment,
        "dept": dept,
        "user": factories.UserFactory(roles=[Role.STAFF], department=dept),
        "leader": factories.LeaderFactory(),
        "link": factories.FriendLinkFactory(),
        **chat_objects(dept),
        **mail_objects(dbsession, clock),
        "case": complaints_objects(dept),
        **meetings_objects(dbsession, dept),
    }


def meetings_objects(dbsession: Any, dept: Any) -> dict[str, Any]:
    from datetime import date

    from portal.meetings.models import AvailabilityOverride
    from tests import factories_meetings

    factories_meetings.bind(dbsession)
    head = factories_meetings.head(dept)
    booking = factories_meetings.BookingFactory(
        head_user=head, requester_user=factories_meetings.enterprise_user()
    )
    override = AvailabilityOverride(head_id=head.id, day=date(2026, 12, 1), note="出差")
    dbsession.add(override)
    dbsession.flush()
    return {"head": head, "booking": booking, "override": override}


def complaints_objects(dept: Any) -> Any:
    from tests.factories_complaints import CaseFactory

    return CaseFactory(department_id=dept.id)


def chat_objects(dept: Any) -> dict[str, Any]:
    from tests.factories_chat import CannedReplyFactory, ConversationFactory

    return {
        "conversation": ConversationFactory(department=dept),
        "canned": CannedReplyFactory(department=dept),
    }


def mail_objects(dbsession: Any, clock: Any) -> dict[str, Any]:
    from portal.mail.outbox import OutboxMailer

    mailer = OutboxMailer(clock, sender="企政通 <noreply@example.gov.cn>", domain="example.gov.cn")
    return {"mail": mailer.queue(dbsession, to=["a@example.cn"], subject="通知", text="正文")}


def url_for(app: Any, route_name: str, objects: dict[str, Any]) -> str:
    """Fill a route's placeholders with real objects; an unknown one fails loudly."""
    route = app.registry.getUtility(IRoutesMapper).get_route(route_name)
    item, attachment = objects["item"], objects["attachment"]
    ids = {
        "content.": item.id,
        "manage.attachment_delete": attachment.id,
        "manage.": item.id,
        "admin.user": objects["user"].id,
        "admin.department": objects["dept"].id,
        "admin.leader": objects["leader"].id,
        "admin.link": objects["link"].id,
        "chat.canned_edit": objects["canned"].id,
        "chat.": objects["conversation"].id,
        "admin.mail": objects["mail"],
        "digests.": objects["leader"].id,
        "cases.": objects["case"].id,
        "meetings.override": objects["override"].id,
        "meetings.head": objects["head"].id,
        "meetings.": objects["booking"].id,
    }
    values = {
        "code": "en" if route_name == "locale" else objects["dept"].code,
        "section": "policy" if route_name.startswith("manage.") else "policies",
        "filename": attachment.filename,
        "subpath": "css/site.css",
        "format": "json",
        "token": "forged-link-token",
    }
    if route_name == "content.attachment":
        values["id"] = attachment.id
    else:
        prefix = next((p for p in ids if route_name.startswith(p)), None)
        if prefix is not None:
            values["id"] = ids[prefix]

    def fill(match: re.Match[str]) -> str:
        name = (match.group(1) or match.group(2)).split(":")[0]
        assert name in values, f"teach this test a value for {name!r} in {route.pattern}"
        return str(values[name])

    path = re.sub(r"\{([^}]+)\}|\*([a-z_]+)", fill, route.pattern)
    return path if path.startswith("/") else "/" + path


def test_the_route_list_includes_the_account_forms(app):
    names = post_routes(app)
    for name in (
        "accounts.login",
        "accounts.register",
        "accounts.logout",
        "accounts.profile",
        "accounts.password",
        "accounts.enterprise",
    ):
        assert name in names


def test_every_post_without_the_token_is_refused(app, testapp, login, dbsession, objects):
    # An administrator passes every permission check, so the CSRF check is what refuses.
    admin = factories.UserFactory(roles=[Role.ADMIN])
    login(admin)
    before = snapshot(dbsession)
    for name in post_routes(app):
        url = url_for(app, name, objects)
        if name.startswith("open311."):
            # A machine API without cookies: the api_key, not a CSRF token, is its guard.
            response = testapp.post(url, {"csrf_token": "forged"}, expect_errors=True)
            assert response.status_int == 403, (name, url, response.status)
            continue
        for body in ({}, {"csrf_token": "forged"}):
            response = testapp.post(url, body, expect_errors=True)
            assert response.status_int == 400, (name, url, response.status)
            assert "表单已过期" in response.text, name
    assert snapshot(dbsession) == before


@pytest.mark.parametrize("url", ["/login", "/register", "/logout"])
def test_anonymous_posts_without_the_token_are_refused(testapp, dbsession, url):
    user = factories.UserFactory()
    before = snapshot(dbsession)
    response = testapp.post(url, {"login": user.login, "password": "wrong"}, status=400)
    assert "表单已过期" in response.text
    assert snapshot(dbsession) == before


def test_javascript_may_send_the_token_as_a_header(testapp, login, dbsession):
    login(factories.UserFactory())
    token = testapp.get("/account").forms["profile"]["csrf_token"].value
    testapp.post("/logout", headers={"X-CSRF-Token": token}, status=303)
    assert testapp.get("/account").status_int == 303


@pytest.mark.parametrize("url", ["/content/999999", "/meetings/materials/" + "a" * 32 + "/x.pdf"])
def test_a_post_with_a_stale_token_to_a_missing_object_is_a_404_not_a_500(testapp, login, url):
    login(factories.UserFactory(roles=[Role.ADMIN]))
    response = testapp.post(url, {"csrf_token": "forged"}, status=404)
    assert "不存在" in response.text


@pytest.mark.parametrize(
    "url", ["/?q=%FF", "/search?q=%E4%B8", "/cases?q=%C0%AF", "/no-such?x=%FF"]
)
def test_a_query_string_that_is_not_utf8_is_a_400_not_a_500(testapp, url):
    response = testapp.get(url, status=400)
    assert "无法识别" in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
