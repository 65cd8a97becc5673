"""Files in a conversation: uploaded over HTTP with the portal's checks, downloaded
only by those who may read the conversation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.chat.models import ChatAttachment, ConvState
from tests import factories
from tests.factories_chat import ConversationFactory, staff_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JSON = {"Accept": "application/json"}


@pytest.fixture
def conv(dbsession):
    return ConversationFactory()


def csrf_of(testapp, conv):
    """The session's token, from the log-out form every page carries."""
    page = testapp.get(f"/chat/conversations/{conv.id}")
    return page.html.select_one("input[name=csrf_token]")["value"]


def upload(testapp, conv, name, content, csrf, status=200):
    return testapp.post(
        f"/chat/conversations/{conv.id}/files",
        {"csrf_token": csrf},
        upload_files=[("upload", name, content)],
        headers=JSON,
        status=status,
    )


def test_the_enterprise_uploads_a_file_and_staff_download_it(testapp, login, dbsession, conv):
    login(dbsession.get(User, conv.user_id))
    csrf = csrf_of(testapp, conv)

    response = upload(testapp, conv, "营业执照.png", PNG, csrf)

    data = response.json["attachment"]
    assert (data["filename"], data["media_type"], data["size"]) == ("营业执照.png", "image/png", 72)
    stored = dbsession.get(ChatAttachment, data["id"])
    assert stored.conversation_id == conv.id
    testapp.reset()
    login(dbsession.get(User, conv.staff_id))
    download = testapp.get(data["url"])
    assert download.body == PNG
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_content_must_match_the_extension(testapp, login, dbsession, conv):
    login(dbsession.get(User, conv.user_id))
    response = upload(
        testapp, conv, "合同.pdf", b"<html>not a pdf</html>", csrf_of(testapp, conv), 400
    )
    assert response.json["field"] == "upload"
    assert response.json["message"]
    assert dbsession.scalars(select(ChatAttachment)).all() == []


def test_an_oversize_upload_is_refused_before_it_is_read(testapp, login, dbsession, conv, settings):
    login(dbsession.get(User, conv.user_id))
    big = b"%PDF-1.4\n" + b"0" * (settings["qzt.upload.max_bytes"] + 20_000)
    response = upload(testapp, conv, "big.pdf", big, csrf_of(testapp, conv), 413)
    assert response.json["message"] == "文件超过 2 MB。"
    assert dbsession.scalars(select(ChatAttachment)).all() == []


def test_strangers_can_neither_upload_nor_download(testapp, login, dbsession, conv):
    login(dbsession.get(User, conv.user_id))
    data = upload(testapp, conv, "a.png", PNG, csrf_of(testapp, conv)).json["attachment"]
    testapp.reset()
    login(factories.enterprise_user())
    testapp.get(data["url"], status=403)
    upload(testapp, conv, "b.png", PNG, "whatever", 403)
    testapp.reset()
    login(staff_of(factories.DepartmentFactory()))
    testapp.get(data["url"], status=403)


def test_nothing_is_uploaded_into_a_closed_conversation(testapp, login, dbsession, conv):
    conv.state = ConvState.CLOSED.value
    login(dbsession.get(User, conv.user_id))
    upload(testapp, conv, "a.png", PNG, csrf_of(testapp, conv), 403)


def test_an_upload_without_the_token_is_refused(testapp, login, dbsession, conv):
    login(dbsession.get(User, conv.user_id))
    testapp.post(
        f"/chat/conversations/{conv.id}/files",
        upload_files=[("upload", "a.png", PNG)],
        status=400,
    )
