"""Editors and reviewers at work: drafting, revising, review with comments, publication,
and who may (not) touch what."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal.content.models import ContentItem, Revision, WorkflowEvent
from portal.roles import Role
from tests import factories


@pytest.fixture
def switch_to(testapp: Any, login: Any) -> Any:
    """Sign out whoever is signed in (forget the cookies) and sign in as ``user``."""

    def switch(user: Any | None) -> None:
        testapp.reset()
        if user is not None:
            login(user)

    return switch


def editor(**kw: Any) -> Any:
    return factories.UserFactory(roles=[Role.EDITOR], **kw)


def reviewer(**kw: Any) -> Any:
    return factories.UserFactory(roles=[Role.REVIEWER], **kw)


def csrf_of(page: Any) -> str:
    return str(page.html.find("input", {"name": "csrf_token"})["value"])


def flashes(page: Any) -> list[str]:
    return [p.get_text(strip=True) for p in page.html.select("p.flash")]


def transition(page: Any, item_id: int, name: str, comment: str = "") -> Any:
    form = page.forms[f"transition-{name}-{item_id}"]
    if "comment" in form.fields:
        form["comment"] = comment
    return form.submit().follow()


def test_a_regulation_goes_from_draft_to_publication_and_archive(
    testapp, dbsession, switch_to, clock
):
    office = factories.DepartmentFactory(name="市司法局")
    author, boss = editor(display_name="王编辑"), reviewer(display_name="李审核")
    switch_to(author)

    # The editor starts from the dashboard and adds a regulation.
    dashboard = testapp.get("/manage")
    assert "我的草稿" in dashboard.text
    add = dashboard.click(href="/manage/add/regulation")
    assert "现行有效" in add.text
    assert 'type="date"' in add.text
    form = add.forms["content"]
    form["title"] = "江门市优化营商环境条例"
    form["summary"] = "优化营商环境。"
    form["body"] = "<p>第一条 为了优化营商环境。</p><script>alert(1)</script>"
    form["department_id"] = str(office.id)
    form["doc_number"] = "江府[2026]3号"
    form["written_date"] = "2026-02-01"
    form["publish_date"] = "2026-02-10"
    form["validity"] = "in_force"
    form.get("checkbox", index=2).checked = True  # 制造业 (C)
    edit = form.submit("save").follow()

    assert "草稿已保存" in edit.text
    item = dbsession.scalars(select(ContentItem).where(ContentItem.title.like("江门市优化%"))).one()
    assert (item.state, item.version, item.section) == ("draft", 1, "regulation")
    assert "<script>" not in item.body
    assert "第一条" in item.body
    assert item.doc_number_key == "江府〔2026〕3号"
    assert item.industries == ["C"]
    assert "草稿" in edit.text
    assert "创建" in edit.text

    # The editor edits the draft: version 2, and the revisions page shows what changed.
    clock.advance(minutes=5)
    form = edit.forms["content"]
    form["title"] = "江门市优化营商环境若干规定"
    edit = form.submit("save").follow()
    assert "已保存" in edit.text
    dbsession.refresh(item)
    assert item.version == 2
    assert [r.version for r in item.revisions] == [2, 1]
    revisions = edit.click(href=f"/manage/content/{item.id}/revisions")
    assert "从版本 1 到版本 2 的修改" in revisions.text
    assert "修订记录：江门市优化营商环境若干规定" in revisions.text
    assert revisions.html.select_one("ins").get_text() == "+ 江门市优化营商环境若干规定"
    assert revisions.html.select_one("del").get_text() == "− 江门市优化营商环境条例"
    first = revisions.click(href="version=1")
    assert "版本 1 首次保存的内容" in first.text
    assert "市司法局" in first.text

    # Submitted, the draft leaves the editor's hands: no more edit form.
    page = transition(edit, item.id, "submit")
    assert "已提交审核" in page.text
    assert page.request.path == f"/content/{item.id}"
    assert item.state == "pending"
    testapp.get(f"/manage/content/{item.id}/edit", status=403)
    assert (
        "江门市优化营商环境若干规定"
        in testapp.get("/manage").html.select_one("#my-pending + table").text
    )

    # The reviewer sends it back, first forgetting to say why.
    switch_to(boss)
    queue = testapp.get("/manage").html.select_one("#to-review + table")
    assert queue is not None
    assert "江门市优化营商环境若干规定" in queue.text
    review = testapp.get(f"/manage/content/{item.id}/edit")
    page = transition(review, item.id, "reject", comment="   ")
    assert "请说明理由。" in flashes(page)
    dbsession.refresh(item)
    assert item.state == "pending"
    page = transition(page, item.id, "reject", comment="请补充施行日期。")
    assert "已退回作者修改" in page.text
    dbsession.refresh(item)
    assert item.state == "draft"

    # The editor sees the reason in the history and resubmits.
    switch_to(author)
    edit = testapp.get(f"/manage/content/{item.id}/edit")
    history = edit.html.select_one("section.history").text
    assert "退回修改" in history
    assert "请补充施行日期。" in history
    assert "李审核" in history
    transition(edit, item.id, "submit")

    # The reviewer publishes; a visitor finds it in the listing and on its page.
    clock.advance(hours=1)  # before signing in: an hour idle would end the session
    switch_to(boss)
    page = transition(testapp.get(f"/manage/content/{item.id}/edit"), item.id, "publish")
    assert "已发布。" in flashes(page)
    dbsession.refresh(item)
    assert item.state == "published"
    assert item.published_at is not None
    switch_to(None)
    assert "江门市优化营商环境若干规定" in testapp.get("/regulations").text
    assert "江府[2026]3号" in testapp.get(f"/content/{item.id}").text

    # Archived, it disappears from the public site.
    switch_to(boss)
    transition(testapp.get(f"/manage/content/{item.id}/edit"), item.id, "archive")
    switch_to(None)
    assert "江门市优化营商环境若干规定" not in testapp.get("/regulations").text
    testapp.get(f"/content/{item.id}", status=303)  # to the login page
    events = dbsession.scalars(
        select(WorkflowEvent.transition).where(WorkflowEvent.content_id == item.id)
    ).all()
    assert events == ["created", "submit", "reject", "submit", "publish", "archive"]


def test_the_author_may_withdraw_a_submission_from_the_dashboard(testapp, dbsession, switch_to):
    author = editor()
    switch_to(author)
    add = testapp.get("/manage/add/industry")
    add.forms["content"]["title"] = "制造业季度运行情况"
    edit = add.forms["content"].submit("save").follow()
    item_id = int(edit.request.path.split("/")[3])
    transition(edit, item_id, "submit")

    dashboard = testapp.get("/manage")
    page = transition(dashboard, item_id, "withdraw")
    assert page.request.path == "/manage"
    assert "已撤回，恢复为草稿" in page.text
    assert "制造业季度运行情况" in page.html.select_one("#my-drafts + table").text


def test_form_errors_are_specific_and_in_chinese(testapp, dbsession, switch_to):
    policy = factories.ContentItemFactory(section="policy", title="一项政策")
    switch_to(editor())
    form = testapp.get("/manage/add/regulation").forms["content"]
    form["title"] = "  "
    form["written_date"] = "2026-03-01"
    form["publish_date"] = "2026-02-01"
    form["replaced_by_id"] = str(policy.id)
    page = form.submit("save")
    assert page.status_int == 200
    assert "请输入标题。" in page.text
    assert f"编号为 {policy.id} 的法规公文不存在或尚未发布。" in page.text
    form = page.forms["content"]
    form["title"] = "标题"
    form["replaced_by_id"] = ""
    page = form.submit("save")
    assert "发布日期不能早于成文日期。" in page.text
    assert dbsession.scalar(select(ContentItem).where(ContentItem.title == "标题")) is None


def test_an_interpretation_points_at_a_published_policy(testapp, dbsession, switch_to):
    published = factories.ContentItemFactory(section="policy", title="已发布的政策")
    factories.ContentItemFactory(section="policy", title="还在起草的政策", state="draft")
    switch_to(editor())
    form = testapp.get("/manage/add/interpretation").forms["content"]
    options = [text for _value, _sel, text in form["interprets_id"].options]
    assert "已发布的政策" in options
    assert "还在起草的政策" not in options
    form["title"] = "一图读懂"
    page = form.submit("save")
    assert "请选择本解读对应的政策。" in page.text
    form = page.forms["content"]
    form["interprets_id"] = str(published.id)
    form.submit("save").follow()
    item = dbsession.scalars(select(ContentItem).where(ContentItem.title == "一图读懂")).one()
    assert item.interprets_id == published.id


def test_an_unknown_section_is_not_found(testapp, switch_to):
    switch_to(editor())
    testapp.get("/manage/add/recipes", status=404)


def test_a_department_editor_works_only_on_the_own_department(testapp, dbsession, switch_to):
    mine, theirs = factories.DepartmentFactory(name="市商务局"), factories.DepartmentFactory()
    own = factories.ContentItemFactory(state="draft", department=mine, title="本局草稿")
    other = factories.ContentItemFactory(state="draft", department=theirs, title="他局草稿")
    switch_to(editor(department=mine))

    testapp.get(f"/manage/content/{other.id}/edit", status=403)
    assert "他局草稿" not in testapp.get("/manage").text
    form = testapp.get(f"/manage/content/{own.id}/edit").forms["content"]
    form["title"] = "本局草稿（修改）"
    form.submit("save").follow()
    dbsession.refresh(own)
    assert own.title == "本局草稿（修改）"
    assert own.version == 2

    # New items are filed under the editor's department, and nowhere else.
    form = testapp.get("/manage/add/service").forms["content"]
    assert [v for v, _sel, _t in form["department_id"].options] == [str(mine.id)]
    form["title"] = "企业服务月活动"
    form["department_id"].force_value(str(theirs.id))
    assert "请从列表中选择部门。" in form.submit("save").text


def test_an_enterprise_user_may_not_enter_the_editing_area(testapp, switch_to):
    switch_to(factories.enterprise_user())
    testapp.get("/manage", status=403)
    testapp.get("/manage/add/policy", status=403)


def test_the_supervisor_sees_everything_and_changes_nothing(testapp, dbsession, switch_to):
    author = editor()
    draft = factories.ContentItemFactory(state="draft", title="监督可见的草稿", created_by=author)
    switch_to(factories.UserFactory(roles=[Role.SUPERVISOR]))

    dashboard = testapp.get("/manage")
    assert "监督可见的草稿" in dashboard.html.select_one("#oversight + table").text
    assert "/manage/add/" not in dashboard.text
    assert "监督可见的草稿" in testapp.get(f"/content/{draft.id}").text
    token = csrf_of(dashboard)

    testapp.post(
        f"/manage/content/{draft.id}/transition",
        {"csrf_token": token, "transition": "submit"},
        status=403,
    )
    testapp.get(f"/manage/content/{draft.id}/edit", status=403)
    testapp.post(
        f"/manage/content/{draft.id}/edit",
        {"csrf_token": token, "title": "改标题", "save": "save"},
        status=403,
    )
    testapp.get("/manage/add/policy", status=403)
    dbsession.refresh(draft)
    assert (draft.state, draft.title) == ("draft", "监督可见的草稿")


def test_a_transition_needs_its_own_permission_and_a_known_name(testapp, dbsession, switch_to):
    author = editor()
    pending = factories.ContentItemFactory(state="pending", created_by=author)
    switch_to(author)
    token = csrf_of(testapp.get("/manage"))
    url = f"/manage/content/{pending.id}/transition"

    testapp.post(url, {"csrf_token": token, "transition": "publish"}, status=403)
    page = testapp.post(url, {"csrf_token": token, "transition": "explode"}).follow()
    assert "当前状态下不能执行此操作。" in flashes(page)
    testapp.post(url, {"transition": "withdraw"}, status=400)  # no CSRF token
    testapp.get(url, status=404)  # only POST changes state
    dbsession.refresh(pending)
    assert pending.state == "pending"


def test_a_stale_button_is_refused_with_a_message(testapp, dbsession, switch_to):
    item = factories.ContentItemFactory(state="published")
    switch_to(reviewer())
    edit = testapp.get(f"/manage/content/{item.id}/edit")
    form = edit.forms[f"transition-archive-{item.id}"]
    form.submit()
    page = form.submit().follow()  # the second click: already archived
    assert "当前状态下不能执行此操作。" in flashes(page)
    assert (
        dbsession.scalar(select(Revision).where(Revision.content_id == item.id)) is None
    )  # transitions make no revisions


def test_titles_are_shown_as_text_never_as_markup(testapp, dbsession, switch_to):
    author = editor()
    item = factories.ContentItemFactory(
        state="draft", created_by=author, title="<script>alert(1)</script>通知"
    )
    switch_to(author)
    for path in (
        f"/manage/content/{item.id}/edit",
        f"/manage/content/{item.id}/revisions",
        "/manage",
    ):
        page = testapp.get(path)
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;通知" in page.text
