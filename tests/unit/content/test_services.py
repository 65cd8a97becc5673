"""ContentService against the real database: revisions, workflow rules, attachments."""

from __future__ import annotations

import io
import os
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from zope.interface.verify import verifyClass

from portal.content.files import LocalFileStorage
from portal.content.interfaces import ContentChanged, ContentError, IContentService
from portal.content.models import Attachment, Revision, WorkflowEvent
from portal.content.services import ContentService
from portal.errors import InputError
from portal.roles import Role
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Recorder:
    """Collects fired events and after-commit callbacks, so tests can run them."""

    def __init__(self) -> None:
        self.events: list[ContentChanged] = []
        self.after_commit: list[Any] = []

    def notify(self, event: ContentChanged) -> None:
        self.events.append(event)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def storage(tmp_path) -> LocalFileStorage:
    return LocalFileStorage(str(tmp_path / "files"))


@pytest.fixture
def service(dbsession, clock, storage, recorder) -> ContentService:
    return ContentService(
        dbsession,
        clock,
        storage,
        recorder.notify,
        1 << 20,
        after_commit=recorder.after_commit.append,
    )


@pytest.fixture
def author(dbsession) -> Any:
    return factories.UserFactory(roles=[Role.EDITOR])


def stored_files(storage: LocalFileStorage) -> list[str]:
    return [f for _d, _s, names in os.walk(storage.root) for f in names]


def test_the_service_implements_its_interface():
    assert verifyClass(IContentService, ContentService)


def test_create_makes_a_draft_with_revision_one_and_a_created_event(
    service, dbsession, author, recorder
):
    item = service.create(
        "regulation",
        {"title": "  条例  ", "body": '<p onclick="x()">正文</p><script>1</script>',
         "doc_number": "江府(2026)3号", "industries": ["C", "A"],
         "written_date": date(2026, 1, 5)},
        author,
    )  # fmt: skip
    assert (item.state, item.version, item.title) == ("draft", 1, "条例")
    assert item.body == "<p>正文</p>"
    assert item.doc_number_key == "江府〔2026〕3号"
    assert item.industries == ["A", "C"]
    (revision,) = item.revisions
    assert revision.version == 1
    assert revision.author_id == author.id
    assert revision.data["written_date"] == "2026-01-05"
    assert revision.data["industries"] == [
        "A",
        "C",
    ]
    (event,) = item.history
    assert (event.transition, event.from_state, event.to_state) == ("created", "", "draft")
    assert [(e.item, e.kind) for e in recorder.events] == [(item, "created")]


def test_each_update_adds_the_next_revision_and_keeps_the_old_ones(
    service, dbsession, author, clock
):
    item = service.create("policy", {"title": "第一版"}, author)
    clock.advance(minutes=1)
    service.update(item, {"title": "第二版"}, author)
    service.update(item, {"summary": "摘要"}, None)
    assert item.version == 3
    assert item.updated_at > item.created_at
    assert [(r.version, r.title) for r in item.revisions] == [
        (3, "第二版"),
        (2, "第二版"),
        (1, "第一版"),
    ]
    assert item.revisions[0].data["summary"] == "摘要"
    assert item.revisions[0].author_id is None


def test_an_update_ignores_fields_it_does_not_manage(service, author):
    item = service.create("policy", {"title": "t"}, author)
    service.update(item, {"state": "published", "version": 99, "created_by_id": None}, author)
    assert (item.state, item.version, item.created_by_id) == ("draft", 2, author.id)


def test_a_document_cannot_replace_itself(service, author):
    item = service.create("regulation", {"title": "t"}, author)
    with pytest.raises(ContentError) as excinfo:
        service.update(item, {"replaced_by_id": item.id}, author)
    assert excinfo.value.field == "replaced_by_id"


def test_only_an_interpretation_interprets(service, author):
    policy = factories.ContentItemFactory(section="policy")
    news = service.create("industry", {"title": "t", "interprets_id": policy.id}, author)
    explained = service.create("interpretation", {"title": "t", "interprets_id": policy.id}, author)
    assert news.interprets_id is None
    assert explained.interprets_id == policy.id


@pytest.mark.parametrize(
    ("state", "name"),
    [("draft", "publish"), ("draft", "withdraw"), ("pending", "submit"), ("published", "publish"),
     ("archived", "retract"), ("draft", "no-such-step")],
)  # fmt: skip
def test_a_transition_from_the_wrong_state_is_refused(service, dbsession, author, state, name):
    item = factories.ContentItemFactory(state=state)
    with pytest.raises(ContentError) as excinfo:
        service.transition(item, name, author, "理由")
    assert excinfo.value.message == "This action is not possible in the item's state."
    assert item.state == state
    assert dbsession.scalar(select(func.count()).select_from(WorkflowEvent)) == 0


@pytest.mark.parametrize(("state", "name"), [("pending", "reject"), ("published", "retract")])
@pytest.mark.parametrize("comment", ["", "   \n "])
def test_send_back_and_retract_need_a_reason(service, dbsession, author, state, name, comment):
    item = factories.ContentItemFactory(state=state)
    with pytest.raises(ContentError) as excinfo:
        service.transition(item, name, author, comment)
    assert (excinfo.value.field, excinfo.value.message) == ("comment", "Please say why.")
    assert item.state == state


def test_a_transition_records_who_when_and_why(service, dbsession, author, clock, recorder):
    item = factories.ContentItemFactory(state="pending")
    clock.advance(hours=2)
    event = service.transition(item, "reject", author, "  请补充依据。 ")
    assert item.state == "draft"
    assert item.updated_at == clock.now()
    assert (event.from_state, event.to_state, event.comment) == ("pending", "draft", "请补充依据。")
    assert (event.actor_id, event.at) == (author.id, clock.now())
    assert recorder.events[-1].kind == "reject"


def test_published_at_is_set_at_the_first_publication_only(service, author, clock):
    item = service.create("policy", {"title": "t"}, author)
    service.transition(item, "submit", author)
    clock.advance(days=1)
    service.transition(item, "publish", author)
    first = item.published_at
    assert first == clock.now()
    clock.advance(days=1)
    service.transition(item, "retract", author, "有误")
    service.transition(item, "submit", author)
    service.transition(item, "publish", author)
    service.transition(item, "archive", author)
    clock.advance(days=1)
    service.transition(item, "republish", author)
    assert item.published_at == first
    assert item.state == "published"


def test_a_genuine_attachment_is_stored_with_its_checks(service, dbsession, author, storage):
    item = factories.ContentItemFactory(state="draft")
    attachment = service.add_attachment(item, "C:\\文件\\通知.pdf", io.BytesIO(PDF), author)
    assert (attachment.filename, attachment.media_type, attachment.size) == (
        "通知.pdf",
        "application/pdf",
        len(PDF),
    )
    assert attachment.uploaded_by_id == author.id
    assert len(attachment.sha256) == 64
    with open(storage.path(attachment.id), "rb") as handle:
        assert handle.read() == PDF


@pytest.mark.parametrize(
    ("name", "data", "msgid"),
    [
        ("a.pdf", b"", "The file is empty."),
        ("a.pdf", b"<html></html>", "The file's content does not match its extension .${ext}."),
        ("a.exe", b"MZ\x90\x00", "Files of type .${ext} are not accepted. Accepted: ${accepted}."),
        ("a.pdf", b"%PDF-" + b"0" * (1 << 20), "The file is larger than ${limit} MB."),
    ],
)
def test_a_refused_upload_leaves_neither_row_nor_file(
    service, dbsession, author, storage, name, data, msgid
):
    item = factories.ContentItemFactory(state="draft")
    with pytest.raises(InputError) as excinfo:
        service.add_attachment(item, name, io.BytesIO(data), author)
    assert excinfo.value.message == msgid
    assert stored_files(storage) == []
    assert dbsession.scalar(select(func.count()).select_from(Attachment)) == 0


def test_the_item_s_collections_show_the_rows_just_added_or_removed(service, author):
    item = service.create("policy", {"title": "t"}, author)
    assert [r.version for r in item.revisions] == [1]
    assert len(item.history) == 1
    service.update(item, {"title": "t2"}, author)
    service.transition(item, "submit", author)
    assert [r.version for r in item.revisions] == [2, 1]
    assert [e.transition for e in item.history] == ["created", "submit"]
    attachment = service.add_attachment(item, "a.pdf", io.BytesIO(PDF), author)
    assert item.attachments == [attachment]
    service.remove_attachment(attachment)
    assert item.attachments == []


def test_removing_an_attachment_deletes_the_file_only_after_commit(
    service, dbsession, author, storage, recorder
):
    item = factories.ContentItemFactory(state="draft")
    attachment = service.add_attachment(item, "a.pdf", io.BytesIO(PDF), author)
    key = attachment.id
    service.remove_attachment(attachment)
    assert dbsession.get(Attachment, key) is None
    assert os.path.exists(storage.path(key))  # the transaction has not committed yet
    (callback,) = recorder.after_commit
    callback()
    assert not os.path.exists(storage.path(key))


def test_revisions_survive_as_rows_of_their_own(service, dbsession, author):
    item = service.create("service", {"title": "一"}, author)
    service.update(item, {"title": "二"}, author)
    rows = dbsession.scalars(select(Revision.version).where(Revision.content_id == item.id)).all()
    assert sorted(rows) == [1, 2]
