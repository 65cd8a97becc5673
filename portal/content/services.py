"""The only code that changes content: drafts, edits with revisions, workflow moves, files."""

from __future__ import annotations

from datetime import date
from typing import Any, BinaryIO

from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.accounts.models import User
from portal.clock import IClock
from portal.content.files import IFileStorage, accept_upload
from portal.content.interfaces import ContentChanged, ContentError, IContentService
from portal.content.models import Attachment, ContentItem, Revision, Section, State, WorkflowEvent
from portal.content.text import normalise_doc_number, sanitise_html
from portal.content.workflow import BY_NAME

#: fields a form or the importer may set; everything else is managed here
EDITABLE = (
    "title", "summary", "body", "department_id", "index_no", "topic", "issuer", "doc_number",
    "written_date", "publish_date", "effective_date", "validity", "replaced_by_id",
    "interprets_id", "source_url",
)  # fmt: skip


def snapshot(item: ContentItem) -> dict[str, Any]:
    """JSON-able copy of an item's editable fields, for a revision."""
    data: dict[str, Any] = {}
    for name in EDITABLE:
        value = getattr(item, name)
        data[name] = value.isoformat() if isinstance(value, date) else value
    data["industries"] = item.industries
    return data


@implementer(IContentService)
class ContentService:
    def __init__(
        self,
        db: Session,
        clock: IClock,
        storage: IFileStorage,
        notify: Any,
        max_upload: int,
        after_commit: Any = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.storage = storage
        self.notify = notify
        self.max_upload = max_upload
        # Runs a callable once the transaction has committed (immediately if no
        # transaction manager is involved, e.g. in a one-off script).
        self.after_commit = after_commit or (lambda fn: fn())

    def _apply(self, item: ContentItem, data: dict[str, Any]) -> None:
        for name in EDITABLE:
            if name in data:
                setattr(item, name, data[name])
        item.title = item.title.strip()
        item.body = sanitise_html(item.body or "")
        item.doc_number = (item.doc_number or "").strip() or None
        item.doc_number_key = normalise_doc_number(item.doc_number) if item.doc_number else None
        if "industries" in data:
            item.set_industries(list(data["industries"] or []))
        if item.interprets_id is not None and item.section != Section.INTERPRETATION:
            item.interprets_id = None  # only a 政策解读 interprets something
        if item.replaced_by_id is not None and item.replaced_by_id == item.id:
            raise ContentError("replaced_by_id", "A document cannot replace itself.")

    def _reload(self, item: ContentItem, *collections: str) -> None:
        # Revisions, events and attachments are added by foreign key, not through the
        # item's collections; expire those so whoever reads them next in this unit of
        # work (the page rendered after the change, a subscriber) sees the new rows.
        self.db.flush()
        self.db.expire(item, list(collections))

    def _revision(self, item: ContentItem, actor: User | None) -> None:
        self.db.add(
            Revision(
                content_id=item.id,
                version=item.version,
                title=item.title,
                data=snapshot(item),
                author_id=actor.id if actor else None,
                created_at=self.clock.now(),
            )
        )

    def create(self, section: str, data: dict[str, Any], actor: User | None) -> ContentItem:
        now = self.clock.now()
        item = ContentItem(
            section=Section(section).value,
            state=State.DRAFT.value,
            title="",
            created_by_id=actor.id if actor else None,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self._apply(item, data)
        self.db.add(item)
        self.db.flush()
        self._revision(item, actor)
        self.db.add(
            WorkflowEvent(
                content_id=item.id,
                transition="created",
                from_state="",
                to_state=item.state,
                actor_id=actor.id if actor else None,
                comment="",
                at=now,
            )
        )
        self._reload(item, "revisions", "history")
        self.notify(ContentChanged(item, "created"))
        return item

    def update(self, item: ContentItem, data: dict[str, Any], actor: User | None) -> ContentItem:
        self._apply(item, data)
        item.version += 1
        item.updated_at = self.clock.now()
        self.db.flush()
        self._revision(item, actor)
        self._reload(item, "revisions")
        self.notify(ContentChanged(item, "updated"))
        return item

    def transition(
        self, item: ContentItem, name: str, actor: User | None, comment: str = ""
    ) -> WorkflowEvent:
        step = BY_NAME.get(name)
        if step is None or step.source != item.state:
            raise ContentError("transition", "This action is not possible in the item's state.")
        comment = comment.strip()
        if step.needs_comment and not comment:
            raise ContentError("comment", "Please say why.")
        now = self.clock.now()
        event = WorkflowEvent(
            content_id=item.id,
            transition=step.name,
            from_state=item.state,
            to_state=step.target.value,
            actor_id=actor.id if actor else None,
            comment=comment[:2000],
            at=now,
        )
        item.state = step.target.value
        item.updated_at = now
        if step.target == State.PUBLISHED and item.published_at is None:
            item.published_at = now
        self.db.add(event)
        self._reload(item, "history")
        self.notify(ContentChanged(item, step.name))
        return event

    def add_attachment(
        self, item: ContentItem, filename: str, stream: BinaryIO, actor: User | None
    ) -> Attachment:
        upload = accept_upload(self.storage, filename, stream, self.max_upload)
        attachment = Attachment(
            id=upload.key,
            content_id=item.id,
            filename=upload.filename,
            media_type=upload.media_type,
            size=upload.size,
            sha256=upload.sha256,
            uploaded_by_id=actor.id if actor else None,
            created_at=self.clock.now(),
        )
        self.db.add(attachment)
        self._reload(item, "attachments")
        return attachment

    def remove_attachment(self, attachment: Attachment) -> None:
        key, item = attachment.id, attachment.item
        self.db.delete(attachment)
        self._reload(item, "attachments")
        # The file goes only after the row's deletion has committed: an aborted
        # transaction must never leave a row whose file is gone.
        self.after_commit(lambda: self.storage.delete(key))
