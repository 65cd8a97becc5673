"""The page cache's parts: the LRU, what may be stored, and when the token changes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pyramid.response import Response
from sqlalchemy import delete, select

from portal.pagecache import CachedPage, PageCache, PageCachePolicy, PageGeneration, storable
from tests import factories


def page(token: str, body: bytes = b"<p>x</p>") -> CachedPage:
    return CachedPage(token, (("Content-Type", "text/html; charset=UTF-8"),), body)


def token(db: Any) -> str | None:
    return db.scalar(select(PageGeneration.token))


# -- the LRU --------------------------------------------------------------------------------
def test_a_page_is_returned_only_under_its_own_token():
    cache = PageCache(4)
    cache.put(("/",), page("t1"))

    assert cache.get(("/",), "t1") is not None
    assert cache.get(("/",), "t2") is None
    assert len(cache) == 0  # the stale page was dropped, not kept alongside


def test_the_least_recently_used_page_goes_first():
    cache = PageCache(2)
    cache.put(("a",), page("t"))
    cache.put(("b",), page("t"))
    cache.get(("a",), "t")  # "a" is now the most recent

    cache.put(("c",), page("t"))

    assert cache.get(("b",), "t") is None
    assert cache.get(("a",), "t") is not None
    assert cache.get(("c",), "t") is not None


def test_a_stored_page_answers_with_its_body_and_revalidates():
    stored = CachedPage("t", (("Content-Type", "text/html"), ("ETag", '"abc"')), b"<p>hi</p>")
    response = stored.response()

    assert response.body == b"<p>hi</p>"
    assert response.etag == "abc"
    assert response.conditional_response


# -- what may be stored -----------------------------------------------------------------------
def shareable(**kw: Any) -> Response:
    response = Response(body=b"<p>page</p>", content_type="text/html", **kw)
    response.cache_control.no_cache = True
    response.vary = ("Cookie", "Accept-Language")
    return response


def test_an_anonymous_html_page_may_be_stored():
    assert storable(shareable())


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: setattr(r, "status", 404),
        lambda r: setattr(r, "content_type", "application/json"),
        lambda r: r.set_cookie("qzt_session", "x"),
        lambda r: setattr(r.cache_control, "private", True),
        lambda r: setattr(r.cache_control, "no_store", True),
        lambda r: setattr(r, "vary", ("Cookie", "User-Agent")),
        lambda r: setattr(r, "body", b"x" * (600 * 1024)),
    ],
    ids=["404", "json", "cookie", "private", "no-store", "vary-user-agent", "too-big"],
)
def test_a_personal_or_odd_response_is_not_stored(spoil):
    response = shareable()
    spoil(response)
    assert not storable(response)


# -- the token ------------------------------------------------------------------------------
def test_the_token_changes_with_every_flush_of_a_page_table(dbsession):
    before = token(dbsession)
    link = factories.FriendLinkFactory()
    after_insert = token(dbsession)
    link.title = "改名"
    dbsession.flush()
    after_update = token(dbsession)
    dbsession.delete(link)
    dbsession.flush()

    assert len({before, after_insert, after_update, token(dbsession)}) == 4


def test_changes_to_other_tables_leave_the_token_alone(dbsession):
    before = token(dbsession)
    user = factories.UserFactory()
    user.display_name = "另一个名字"
    dbsession.flush()

    assert token(dbsession) == before


def test_a_rolled_back_savepoint_takes_its_token_with_it(dbsession):
    before = token(dbsession)
    savepoint = dbsession.begin_nested()
    factories.DepartmentFactory()
    assert token(dbsession) != before

    savepoint.rollback()

    assert token(dbsession) == before


def test_the_row_is_recreated_if_a_database_lacks_it(dbsession):
    dbsession.execute(delete(PageGeneration))

    factories.ContentItemFactory()

    assert token(dbsession)


# -- the policy -----------------------------------------------------------------------------
def anonymous_get(path: str = "/") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http",
    }


def test_visitors_missing_together_wait_for_one_render(app):
    renders = []

    def slow_render(environ: dict[str, Any], router: Any) -> Response:
        renders.append(environ["PATH_INFO"])
        time.sleep(0.2)
        return shareable()

    policy = PageCachePolicy(slow_render, size=8)
    with ThreadPoolExecutor(max_workers=5) as pool:
        bodies = list(pool.map(lambda _: policy(anonymous_get(), app).body, range(5)))

    assert renders == ["/"]
    assert bodies == [b"<p>page</p>"] * 5


@pytest.mark.parametrize(
    ("change", "cached"),
    [
        ({}, True),
        ({"REQUEST_METHOD": "POST"}, False),
        ({"HTTP_COOKIE": "qzt_session=abc"}, False),
        ({"HTTP_COOKIE": "qzt_locale=en"}, True),
        ({"QUERY_STRING": "page=2"}, True),
        ({"QUERY_STRING": "q=%E4%BC%81%E4%B8%9A"}, False),
        ({"PATH_INFO": "/login"}, False),
        ({"PATH_INFO": "/content/7"}, True),
        ({"PATH_INFO": "/regulations"}, True),
    ],
    ids=["home", "post", "session", "locale-cookie", "page-2", "keyword", "login", "item", "list"],
)
def test_which_requests_the_cache_considers(app, change, cached):
    policy = PageCachePolicy(lambda environ, router: shareable(), size=8)
    assert policy.candidate({**anonymous_get(), **change}, app.registry) is cached
