"""A visitor's first steps: home page, a listing, an item, a department."""

from __future__ import annotations

from tests import factories
from tests.conftest import transition_form


def test_home_shows_four_columns_and_sidebar(testapp, dbsession):
    dept = factories.DepartmentFactory(name="市发展和改革局", short_name="发改局")
    factories.FriendLinkFactory(title="中国政府网")
    for section in ("policy", "regulation", "industry", "service"):
        factories.ContentItemFactory(section=section, title=f"{section}-最新", department=dept)

    page = testapp.get("/")

    for heading in ("涉企政策", "法规公文", "行业发展动态", "企政交流服务动态"):
        assert heading in page.text
    for section in ("policy", "regulation", "industry", "service"):
        assert f"{section}-最新" in page.text
    assert "视频交流预约" in page.text
    assert "在线部门" in page.text
    assert "友情链接" in page.text
    assert "发改局" in page.text
    assert "中国政府网" in page.text
    assert "Set-Cookie" not in page.headers  # anonymous views open no session
    assert page.headers["ETag"]


def test_home_answers_304_to_a_revalidation(testapp, dbsession):
    factories.ContentItemFactory()
    first = testapp.get("/")
    again = testapp.get("/", headers={"If-None-Match": first.headers["ETag"]}, status=304)
    assert again.body == b""


def test_unpublished_item_is_hidden_from_visitors(testapp, dbsession):
    draft = factories.ContentItemFactory(state="draft")
    testapp.get(f"/content/{draft.id}", status=303)  # to the login page
    published = factories.ContentItemFactory()
    assert published.title in testapp.get(f"/content/{published.id}").text


def test_a_reviewer_publishes_from_the_item_page(testapp, dbsession, login):
    from portal.roles import Role

    reviewer = factories.UserFactory(roles=[Role.REVIEWER])
    item = factories.ContentItemFactory(state="pending", title="待发布的惠企政策")
    login(reviewer)
    page = testapp.get(f"/content/{item.id}")
    form = transition_form(page, "publish")
    form.submit().follow()
    dbsession.refresh(item)
    assert item.state == "published"
    assert "待发布的惠企政策" in testapp.get("/policies").text
