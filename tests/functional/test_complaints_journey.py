"""A case from the enterprise's form to its rating, walked through the pages by each party."""

from __future__ import annotations

import email
import re
from email import policy as email_policy

import pytest
import webtest
from sqlalchemy import func, select

from portal.complaints.models import Case, CaseAttachment, CaseState
from portal.mail.models import OutboxMail
from portal.roles import Role
from tests.factories_complaints import World, signed_in, staff

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(dbsession):
    w = World(dbsession)
    w.desk_head = staff(w.desk, Role.HEAD)
    dbsession.flush()
    return w


@pytest.fixture
def as_user(app, tm, dbsession):
    """A separate signed-in browser per user."""
    return lambda user: signed_in(app, tm, dbsession, user)


def file_case(client, **fields):
    page = client.get("/cases/new")
    form = page.forms["case-form"]
    for name, value in fields.items():
        form[name] = value
    return form


def move(client, case, name, status=303, **fields):
    page = client.get(f"/cases/{case.id}")
    form = page.forms[f"move-{name}"]
    for key, value in fields.items():
        if key == "assist_ids":
            form.set(key, value)
        else:
            form[key] = value
    return form.submit(status=status)


def test_from_the_form_to_the_rating(dbsession, world, as_user):
    company = as_user(world.company)
    form = file_case(
        company, kind="complaint", title="园区道路破损", description="道路破损，货车无法通行。",
        category=world.category.code,
    )  # fmt: skip
    form["files"] = [webtest.Upload("现场照片.pdf", PDF, "application/pdf")]
    done = form.submit(status=303).follow()
    case = dbsession.scalar(select(Case).order_by(Case.id.desc()))
    assert f"编号为 {case.number}" in done.text or case.number in done.text
    assert case.state == CaseState.DISPATCHED
    assert case.department_id == world.a.id
    assert [a.filename for a in case.attachments] == ["现场照片.pdf"]
    ack = dbsession.scalar(select(OutboxMail).where(OutboxMail.dedupe_key == f"case-ack:{case.id}"))
    message = email.message_from_bytes(ack.raw, policy=email_policy.default)
    assert message["Subject"] == f"您的诉求已受理（编号 {case.number}）"
    assert f"/cases/{case.id}" in message.get_body().get_content()

    # Another enterprise sees nothing of it.
    as_user(world.other_company).get(f"/cases/{case.id}", status=403)

    a_staff, a_head = as_user(world.a_staff), as_user(world.a_head)
    assert case.number in a_staff.get("/cases").text
    move(a_staff, case, "sign")
    move(a_staff, case, "submit_reply", comment="已安排施工队，三日内修复。")
    # A member of staff may not sign the reply off: only the head.
    refused = a_staff.post(
        f"/cases/{case.id}/transition",
        {"transition": "approve_reply", "csrf_token": _token(a_staff)},
        status=403,
    )
    assert "无权" in refused.text or "不能" in refused.text
    move(a_head, case, "approve_reply")
    page = company.get(f"/cases/{case.id}")
    assert "已安排施工队" in page.text
    move(a_head, case, "close")
    # A rating on someone else's case: refused, with the reason.
    other = as_user(world.other_company)
    refused = other.post(
        f"/cases/{case.id}/transition",
        {"transition": "rate", "level": "5", "csrf_token": _token(other)},
        status=403,
    )
    assert "只能评价本企业的诉求" in refused.text
    move(company, case, "rate", level="2", comment="仍有坑洼")
    assert case.state == CaseState.RECTIFYING
    move(a_staff, case, "record_followup", comment="再次修复并电话回访。")
    move(a_head, case, "close_rectification")
    move(company, case, "rate", level="4")
    assert case.state == CaseState.RATED
    history = company.get(f"/cases/{case.id}").text
    for label in ("受理诉求", "签收", "审核签发答复", "办结", "重办整改", "整改办结"):
        assert label in history


def _token(client) -> str:
    """The session's CSRF token, from the logout form every signed-in page has."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").text).group(1)


def test_the_desk_dispatches_an_unsure_case_with_co_handlers(dbsession, world, as_user):
    company = as_user(world.company)
    file_case(company, kind="consult", title="不知道找哪个部门", description="请帮忙分办。").submit(
        status=303
    )
    case = dbsession.scalar(select(Case).order_by(Case.id.desc()))
    assert case.state == CaseState.ACCEPTED
    assert case.department_id is None
    desk = as_user(world.desk_staff)
    assert case.number in desk.get("/cases", params={"state": "accepted"}).text
    move(desk, case, "dispatch", department_id=str(world.b.id), assist_ids=[str(world.a.id)])
    assert case.department_id == world.b.id
    assert [d.id for d in case.assists] == [world.a.id]
    # The co-handling department sees the case and may add its opinion, not handle it.
    a_staff = as_user(world.a_staff)
    page = a_staff.get(f"/cases/{case.id}")
    assert "move-sign" not in page.forms
    form = page.forms["case-note"]
    form["body"] = "协办意见：建议参照往年做法。"
    form.submit(status=303)
    assert any(m.kind == "assist" for m in case.messages)


def test_bad_input_on_the_form_changes_nothing(dbsession, world, as_user):
    company = as_user(world.company)
    count = dbsession.scalar(select(func.count()).select_from(Case))
    page = file_case(company, kind="complaint", title="", description="内容").submit(status=400)
    assert "此项必填" in page.text
    assert page.forms["case-form"]["description"].value == "内容"
    page = file_case(company, title="标题", description="内容").submit(status=400)
    assert "请选择诉求类型" in page.text
    page = file_case(company, kind="help", title="标题", description="x" * 5001).submit(status=400)
    assert "最多 5000 个字符" in page.text
    page = file_case(
        company, kind="help", title="标题", description="内容", contact_email="nope"
    ).submit(status=400)
    assert "有效的电子邮箱" in page.text
    # An attachment that lies about its type.
    form = file_case(company, kind="help", title="标题", description="内容")
    form["files"] = [webtest.Upload("合同.pdf", PNG, "application/pdf")]
    page = form.submit(status=400)
    assert "不符" in page.text or "扩展名" in page.text
    # A department that does not exist (a forged form).
    token = page.forms["case-form"]["csrf_token"].value
    page = company.post(
        "/cases/new",
        {
            "csrf_token": token,
            "kind": "help",
            "title": "t",
            "description": "d",
            "department": "99999",
        },
        status=400,
    )
    assert "请从列表中选择部门" in page.text
    assert dbsession.scalar(select(func.count()).select_from(Case)) == count
    assert dbsession.scalar(select(func.count()).select_from(CaseAttachment)) == 0


def test_too_many_or_too_large_files_are_refused(dbsession, world, as_user, settings):
    company = as_user(world.company)
    token = company.get("/cases/new").forms["case-form"]["csrf_token"].value
    fields = {"csrf_token": token, "kind": "help", "title": "t", "description": "d"}
    files = [("files", f"f{i}.pdf", PDF) for i in range(6)]
    page = company.post("/cases/new", fields, upload_files=files, status=400)
    assert "最多上传 5 个附件" in page.text
    limit = settings["qzt.upload.max_bytes"]
    # One file over the per-file limit: refused while it is read, nothing kept.
    big = b"%PDF-" + b"0" * limit
    page = company.post("/cases/new", fields, upload_files=[("files", "big.pdf", big)], status=400)
    assert "文件超过 2 MB。" in page.text
    # A body over what all files together may be: refused before it is read.
    huge = b"%PDF-" + b"0" * (limit * 5 + 128 * 1024)
    page = company.post(
        "/cases/new", fields, upload_files=[("files", "huge.pdf", huge)], status=413
    )
    assert "10 MB" in page.text
    assert dbsession.scalar(select(func.count()).select_from(Case)) == 0


def test_a_move_not_allowed_now_is_refused_with_a_message(dbsession, world, as_user):
    company = as_user(world.company)
    file_case(
        company, kind="help", title="标题", description="内容", department=str(world.a.id)
    ).submit(status=303)
    case = dbsession.scalar(select(Case).order_by(Case.id.desc()))
    a_head = as_user(world.a_head)
    page = a_head.get(f"/cases/{case.id}")
    token = page.forms["move-sign"]["csrf_token"].value
    back = a_head.post(
        f"/cases/{case.id}/transition", {"transition": "close", "csrf_token": token}, status=303
    ).follow()
    assert "诉求当前的状态下不能进行此操作" in back.text
    assert case.state == CaseState.DISPATCHED
    back = a_head.post(
        f"/cases/{case.id}/transition", {"transition": "teleport", "csrf_token": token}, status=303
    ).follow()
    assert "不能进行此操作" in back.text


def test_files_are_downloaded_only_by_those_who_see_the_case(dbsession, world, as_user):
    company = as_user(world.company)
    form = file_case(
        company, kind="help", title="标题", description="内容", department=str(world.a.id)
    )
    form["files"] = [webtest.Upload("说明.pdf", PDF, "application/pdf")]
    form.submit(status=303)
    case = dbsession.scalar(select(Case).order_by(Case.id.desc()))
    attachment = case.attachments[0]
    url = f"/cases/{case.id}/files/{attachment.id}/x.pdf"
    got = as_user(world.a_staff).get(url)
    assert got.body == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;")
    as_user(world.other_company).get(url, status=403)
    as_user(world.b_staff).get(url, status=403)
