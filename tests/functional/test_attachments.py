"""An editor attaches files to an item; visitors download them once the item is public."""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from webtest import Upload

from portal.content.models import Attachment
from portal.roles import Role
from tests import factories

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def minimal_pdf() -> bytes:
    """A real one-page PDF: catalog, page tree, page, cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", b'<?xml version="1.0"?><w:document/>')
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def author(testapp: Any, login: Any) -> Any:
    user = factories.UserFactory(roles=[Role.EDITOR])
    login(user)
    return user


@pytest.fixture
def draft(author: Any) -> Any:
    return factories.ContentItemFactory(state="draft", created_by=author, title="附件测试草稿")


@pytest.fixture
def stored(settings: dict[str, Any]) -> Any:
    """How many files the attachment storage holds right now."""

    def count() -> int:
        root = settings["qzt.storage_dir"]
        return sum(len(names) for _d, _s, names in os.walk(root))

    return count


def attachments(dbsession: Any) -> int:
    return int(dbsession.scalar(select(func.count()).select_from(Attachment)) or 0)


def upload(testapp: Any, item: Any, filename: str, data: bytes, **kw: Any) -> Any:
    form = testapp.get(f"/manage/content/{item.id}/edit").forms["upload"]
    form["upload"] = Upload(filename, data)
    return form.submit(**kw)


def flashes(page: Any) -> list[str]:
    return [p.get_text(strip=True) for p in page.html.select("p.flash")]


def switch_to(testapp: Any, login: Any, user: Any | None) -> None:
    testapp.reset()
    if user is not None:
        login(user)


def test_a_pdf_is_downloadable_by_anyone_once_published_but_not_while_draft(
    testapp, dbsession, login, author, draft, stored
):
    pdf = minimal_pdf()
    before = stored()
    page = upload(testapp, draft, "关于申报的通知.pdf", pdf).follow()
    assert "附件已上传。" in flashes(page)
    link = page.html.select_one("#attachments a[download]")
    assert link.get_text() == "关于申报的通知.pdf"
    href = link["href"]
    assert stored() == before + 1
    assert attachments(dbsession) == 1
    assert testapp.get(href).body == pdf  # the editor may look at it

    switch_to(testapp, login, None)
    testapp.get(href, status=303)  # a visitor is asked to log in
    switch_to(testapp, login, factories.enterprise_user())
    testapp.get(href, status=403)

    draft.state = "published"  # as a reviewer would (see test_editing)
    dbsession.flush()
    switch_to(testapp, login, None)
    response = testapp.get(href)
    assert response.body == pdf
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename*=UTF-8''{quote('关于申报的通知.pdf')}"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "关于申报的通知.pdf" in testapp.get(f"/content/{draft.id}").text


def test_html_named_pdf_is_refused_and_nothing_is_kept(testapp, dbsession, draft, stored):
    before = stored()
    page = upload(testapp, draft, "通知.pdf", b"<html><script>alert(1)</script></html>").follow()
    assert "文件内容与扩展名 .pdf 不符。" in flashes(page)
    assert stored() == before
    assert attachments(dbsession) == 0
    assert page.request.path == f"/manage/content/{draft.id}/edit"


def test_a_docx_built_by_a_word_processor_is_accepted(testapp, dbsession, draft):
    page = upload(testapp, draft, "申报表.docx", docx()).follow()
    assert "附件已上传。" in flashes(page)
    (row,) = dbsession.scalars(select(Attachment)).all()
    assert (row.filename, row.media_type, row.content_id) == ("申报表.docx", DOCX_TYPE, draft.id)


def test_a_zip_bomb_dressed_as_docx_is_refused(testapp, dbsession, draft, stored):
    before = stored()
    bomb = docx({"word/media/image1.bin": b"\x00" * (50 << 20)})
    assert len(bomb) < (200 << 10)  # 50 MB of zeros packs into a few dozen KB
    page = upload(testapp, draft, "申报表.docx", bomb).follow()
    assert "文件解压后体积异常，已拒收。" in flashes(page)
    assert stored() == before
    assert attachments(dbsession) == 0


def test_an_oversize_upload_is_refused_before_the_body_is_parsed(testapp, dbsession, draft, stored):
    before = stored()
    big = b"%PDF-1.4\n" + b"0" * (3 << 20)
    response = upload(testapp, draft, "大文件.pdf", big, status=413)
    assert "文件过大" in response.text
    assert "文件超过 2 MB。" in response.text
    # WebOb caches a parsed form in the environ and flags a body it copied (as a retry
    # would): neither happened, so nothing read the body.
    assert "webob._parsed_post_vars" not in response.request.environ
    assert not response.request.environ.get("webob.is_body_seekable")
    assert stored() == before
    assert attachments(dbsession) == 0


def test_a_file_just_over_the_limit_is_still_refused_by_the_storage(
    testapp, dbsession, draft, stored
):
    before = stored()
    just_over = b"%PDF-1.4\n" + b"0" * (2 << 20)  # within the multipart allowance
    page = upload(testapp, draft, "大文件.pdf", just_over).follow()
    assert "文件超过 2 MB。" in flashes(page)
    assert stored() == before
    assert attachments(dbsession) == 0


def test_an_upload_without_length_is_refused(testapp, draft):
    # A chunked body announces no length; webtest always sets one, so build it by hand.
    request = testapp.RequestClass.blank(
        f"/manage/content/{draft.id}/attachments",
        dict(testapp.extra_environ),
        method="POST",
        content_type="multipart/form-data; boundary=x",
        body=b"--x--\r\n",
    )
    del request.environ["CONTENT_LENGTH"]
    response = testapp.do_request(request, status=413)
    assert "文件过大" in response.text


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("空文件.pdf", b"", "文件为空。"),
        ("setup.exe", b"MZ\x90\x00", "不接受 .exe 类型的文件。"),
    ],
)
def test_other_refusals_are_explained(testapp, dbsession, draft, filename, data, message):
    page = upload(testapp, draft, filename, data).follow()
    assert any(f.startswith(message) for f in flashes(page))
    assert attachments(dbsession) == 0


def test_submitting_without_a_file_asks_for_one(testapp, draft):
    page = testapp.get(f"/manage/content/{draft.id}/edit").forms["upload"].submit().follow()
    assert "请选择要上传的文件。" in flashes(page)


def test_an_upload_needs_the_csrf_token_and_the_right_to_edit(
    testapp, dbsession, login, draft, stored
):
    before = stored()
    url = f"/manage/content/{draft.id}/attachments"
    files = [("upload", "a.pdf", minimal_pdf())]
    testapp.post(url, {"csrf_token": "forged"}, upload_files=files, status=400)

    switch_to(testapp, login, factories.UserFactory(roles=[Role.SUPERVISOR]))
    token = testapp.get("/manage").html.find("input", {"name": "csrf_token"})["value"]
    testapp.post(url, {"csrf_token": token}, upload_files=files, status=403)
    assert stored() == before
    assert attachments(dbsession) == 0


def token_on(testapp: Any, path: str) -> str:
    return str(testapp.get(path).html.find("input", {"name": "csrf_token"})["value"])


def test_the_editor_deletes_an_attachment_others_may_not(testapp, dbsession, login, author, draft):
    upload(testapp, draft, "a.pdf", minimal_pdf())
    (row,) = dbsession.scalars(select(Attachment)).all()
    url = f"/manage/attachments/{row.id}/delete"

    elsewhere = factories.DepartmentFactory()
    switch_to(testapp, login, factories.UserFactory(roles=[Role.EDITOR], department=elsewhere))
    testapp.post(url, {"csrf_token": token_on(testapp, "/manage")}, status=403)
    switch_to(testapp, login, factories.enterprise_user())
    testapp.post(url, {"csrf_token": token_on(testapp, "/account")}, status=403)
    testapp.post(url, {}, status=400)  # and never without the token
    assert attachments(dbsession) == 1

    switch_to(testapp, login, author)
    page = testapp.get(f"/manage/content/{draft.id}/edit").forms[f"delete-{row.id}"].submit()
    assert "附件已删除。" in flashes(page.follow())
    assert attachments(dbsession) == 0
