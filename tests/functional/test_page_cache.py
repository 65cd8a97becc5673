"""Anonymous pages come from memory, yet a change shows at once, in every process."""

from __future__ import annotations

from typing import Any

import pytest
import webtest
from sqlalchemy import select, text

from portal import main
from portal.content.models import ContentItem
from portal.roles import Role
from tests import factories


@pytest.fixture
def cache(app: Any) -> Any:
    """The page cache of the test app, emptied: earlier tests filled it."""
    page_cache = app.registry["page_cache"]
    page_cache.clear()
    return page_cache


@pytest.fixture
def second_process(settings: dict[str, Any], engine: Any, testapp: webtest.TestApp) -> Any:
    """Another portal process: its own app and page cache, the same database."""
    other = main({}, **{**settings, "qzt.engine": engine})
    return webtest.TestApp(other, extra_environ=testapp.extra_environ)


def titles_on_home(testapp: webtest.TestApp) -> list[str]:
    page = testapp.get("/")
    return [a.get_text() for a in page.html.select(".columns .item-list a")]


def test_publishing_an_item_puts_it_on_the_home_page_at_once(testapp, dbsession, login, cache):
    factories.ContentItemFactory(title="已发布的旧政策")
    pending = factories.ContentItemFactory(title="刚刚审核通过的新政策", state="pending")

    # A visitor looks twice: the second answer is the stored page.
    assert titles_on_home(testapp) == ["已发布的旧政策"]
    first_etag = testapp.get("/").headers["ETag"]
    assert len(cache) == 1

    # A reviewer approves the pending item through the real workflow form.
    login(factories.UserFactory(roles=[Role.REVIEWER]))
    edit = testapp.get(f"/manage/content/{pending.id}/edit")
    edit.forms[f"transition-publish-{pending.id}"].submit().follow()
    testapp.reset()

    # The very next anonymous visit shows it, on the home page and in the listing.
    assert "刚刚审核通过的新政策" in titles_on_home(testapp)
    assert testapp.get("/").headers["ETag"] != first_etag
    assert "刚刚审核通过的新政策" in testapp.get("/policies").text


def test_the_stored_page_is_served_until_something_shown_changes(testapp, dbsession, cache):
    item = factories.ContentItemFactory(title="原来的标题")
    assert titles_on_home(testapp) == ["原来的标题"]

    # A write that bypasses the ORM (and so the token) proves the page is the stored one.
    dbsession.connection().execute(
        text("UPDATE content_items SET title = '绕过缓存的改动' WHERE id = :id"), {"id": item.id}
    )
    assert titles_on_home(testapp) == ["原来的标题"]

    # Any change through the ORM retires it.
    dbsession.expire(item)
    item.summary = "新的摘要"
    dbsession.flush()
    assert titles_on_home(testapp) == ["绕过缓存的改动"]


def test_departments_and_links_changes_show_at_once(testapp, dbsession, cache):
    department = factories.DepartmentFactory(short_name="发改局")
    assert "发改局" in testapp.get("/").text

    department.short_name = "发展改革局"
    dbsession.flush()
    page = testapp.get("/")
    assert "发展改革局" in page.text

    factories.FriendLinkFactory(title="广东政务服务网")
    assert "广东政务服务网" in testapp.get("/").text


def test_a_bulk_update_retires_the_stored_pages(testapp, dbsession, cache):
    from sqlalchemy import update

    item = factories.ContentItemFactory(title="批量修改之前")
    assert titles_on_home(testapp) == ["批量修改之前"]

    dbsession.execute(
        update(ContentItem).where(ContentItem.id == item.id).values(title="批量修改之后")
    )
    dbsession.expire_all()
    assert titles_on_home(testapp) == ["批量修改之后"]


def test_a_change_made_in_one_process_shows_in_another(testapp, dbsession, second_process, cache):
    factories.ContentItemFactory(title="两个进程都看到的第一条")
    assert titles_on_home(second_process) == ["两个进程都看到的第一条"]

    # The first process (say, an editor's request) changes the content...
    factories.ContentItemFactory(title="另一个进程发布的第二条")
    assert len(titles_on_home(testapp)) == 2

    # ...and the second process, whose memory still holds the old page, does not use it.
    assert "另一个进程发布的第二条" in titles_on_home(second_process)


def test_a_signed_in_user_never_gets_the_anonymous_page_nor_leaves_one(
    testapp, dbsession, login, cache
):
    user = factories.enterprise_user(display_name="陈经理")
    testapp.get("/")
    stored = len(cache)

    login(user)
    page = testapp.get("/")
    assert "陈经理" in page.text
    assert page.headers["Cache-Control"] == "no-store, private"
    assert len(cache) == stored

    testapp.reset()
    page = testapp.get("/")
    assert "陈经理" not in page.text
    assert "Set-Cookie" not in page.headers


def test_only_plain_listing_pages_are_stored(testapp, dbsession, cache):
    factories.ContentItemFactory(title="关于稳外贸的若干措施")

    testapp.get("/policies", params={"q": "外贸"})
    testapp.get("/policies", params={"industry": "C"})
    assert len(cache) == 0
    testapp.get("/policies")
    testapp.get("/policies", params={"page": "1"})
    assert len(cache) == 2


def test_a_revalidation_of_a_stored_page_gets_304(testapp, dbsession, cache):
    factories.ContentItemFactory()
    etag = testapp.get("/").headers["ETag"]
    assert len(cache) == 1

    again = testapp.get("/", headers={"If-None-Match": etag}, status=304)

    assert again.body == b""
    assert again.headers["ETag"] == etag


def test_unpublished_and_missing_items_are_not_stored(testapp, dbsession, cache):
    draft = factories.ContentItemFactory(state="draft")
    testapp.get(f"/content/{draft.id}", status=303)
    testapp.get("/content/999999", status=404)
    assert len(cache) == 0
    published = dbsession.scalar(select(ContentItem).where(ContentItem.id == draft.id))
    published.state = "published"
    dbsession.flush()
    testapp.get(f"/content/{draft.id}", status=200)
    assert len(cache) == 1
