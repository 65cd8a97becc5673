"""``qzt import``: documents from JSON Lines into a content section.

The records have the fields of ``shared/data/laws/*.jsonl`` (id, title, subtitle,
level, category, issuer, doc_number, publish_date, valid_from, superseded, body,
source …). The record ``id`` becomes ``ContentItem.source_id``, which makes an
import repeatable: a record seen before updates its item (with a new revision)
when something changed, and is counted as unchanged otherwise.

A bad record is rejected with its line number and the reason, and the import goes
on. The file is read line by line and written in batches, so a 35 MB file never
sits in memory. Every new item gets revision 1 and its workflow history (created,
submitted, published) like an item written by hand.
"""

from __future__ import annotations

import json
import os
import re
import time as timer
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import portal.models  # noqa: F401  (a command has no app to configure every mapper first)
from portal.clock import LOCAL_TZ, IClock, SystemClock
from portal.content.files import LocalFileStorage
from portal.content.models import ContentItem, Revision, Section, State, Validity, WorkflowEvent
from portal.content.services import EDITABLE, ContentService, snapshot
from portal.content.text import normalise_doc_number, plain_to_html, sanitise_html
from portal.errors import InputError

MAX_TITLE = 300  # the column's size: a longer "title" is a body pasted in the wrong field
MAX_BODY = 2_000_000  # the longest real statute is ~110,000 characters
SUMMARY_CHARS = 120
BATCH_SIZE = 200
#: column sizes of the optional text fields, checked before the database sees them
LIMITS = {"id": 100, "issuer": 200, "doc_number": 100, "topic": 50, "source": 500}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RecordError(ValueError):
    """Why one record cannot be imported; the import goes on with the next."""


@dataclass
class ImportReport:
    """What an import did. ``ok`` means every record read was imported."""

    path: str
    section: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    read: int = 0
    rejections: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: ids of the items created or updated, for whoever keeps derived data (search)
    changed_ids: list[int] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def ok(self) -> bool:
        return not self.rejections

    def reject(self, line: int, reason: str, source_id: str | None = None) -> None:
        where = f"line {line}" + (f" ({source_id})" if source_id else "")
        self.rejections.append(f"{where}: {reason}")

    def summary(self) -> str:
        return (
            f"{os.path.basename(self.path)} → {self.section}: {self.read} records read, "
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected ({self.seconds:.1f} s)"
        )


# -- mapping: pure functions, no database -----------------------------------------------


def _text(raw: dict[str, Any], name: str) -> str | None:
    """The stripped text of an optional field: None when absent or blank."""
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is not text")
    if "\x00" in value:  # PostgreSQL refuses NUL in text; say so instead of failing there
        raise RecordError(f"{name} contains a NUL character")
    value = value.strip()
    limit = LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise RecordError(f"{name} longer than {limit} characters")
    return value


def _required(raw: dict[str, Any], name: str) -> str:
    value = _text(raw, name)
    if value is None:
        raise RecordError(f"no {name}")
    return value


def _date(raw: dict[str, Any], name: str) -> date | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # shaped like a date but not one: 2024-02-30
    raise RecordError(f"{name} is not a date (YYYY-MM-DD): {str(value)[:40]!r}")


def summarise(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first ``limit`` characters of the text, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"


def map_record(raw: Any) -> tuple[str, dict[str, Any]]:
    """``(source_id, data for ContentService)`` from one decoded record, or RecordError."""
    if not isinstance(raw, dict):
        raise RecordError("not a JSON object")
    source_id = _required(raw, "id")
    title = _required(raw, "title")
    body = _required(raw, "body")
    subtitle = _text(raw, "subtitle")
    if subtitle:
        title = f"{title}（{subtitle}）"
    if len(title) > MAX_TITLE:
        raise RecordError(f"title too long ({len(title)} characters, at most {MAX_TITLE})")
    if len(body) > MAX_BODY:
        raise RecordError(f"body too long ({len(body)} characters, at most {MAX_BODY})")
    superseded = raw.get("superseded")
    if superseded is not None and not isinstance(superseded, bool):
        raise RecordError("superseded is not true or false")
    source = _text(raw, "source")
    if source and not source.startswith(("https://", "http://")):
        raise RecordError("source is not an http(s) URL")
    topic = _text({"topic": raw.get("level") or raw.get("category")}, "topic")
    doc_number = _text(raw, "doc_number")
    return source_id, {
        "title": title,
        "summary": summarise(body),
        # Sanitised here as the service would: comparing with the stored body must
        # see equal text as equal, or every re-import would count as an update.
        "body": sanitise_html(plain_to_html(body)),
        "issuer": _text(raw, "issuer"),
        "doc_number": doc_number,
        "publish_date": _date(raw, "publish_date"),
        "effective_date": _date(raw, "valid_from"),
        "validity": (Validity.AMENDED if superseded else Validity.IN_FORCE).value,
        "source_url": source,
        "topic": topic,
    }


def changed_fields(item: ContentItem, data: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in data.items() if getattr(item, name) != value}


def read_records(path: str) -> Iterator[tuple[int, Any]]:
    """``(line number, decoded JSON or RecordError)`` for each non-blank line."""
    with open(path, "rb") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                yield number, RecordError("not UTF-8 text")
            except json.JSONDecodeError as error:
                yield number, RecordError(f"not valid JSON ({error.msg})")
            except RecursionError:
                yield number, RecordError("not valid JSON (nested too deeply)")


# -- writing --------------------------------------------------------------------------


@dataclass
class _Pending:
    line: int
    source_id: str
    data: dict[str, Any]


class Importer:
    """Writes mapped records: new ones in bulk, changed ones through ContentService.

    Creation bypasses ContentService on purpose. Through the service a new published
    item costs three flushes and two rewrites of its row (create, submit, publish),
    and statute bodies run to 100 KB: the 1,510 national laws took 46 s that way on a
    busy two-core machine, against 5 s now. Here a batch becomes one multi-row INSERT
    per table, with exactly the rows the service would write (the item, revision 1,
    and the created / submit / publish events), built with the service's own helpers
    (EDITABLE, snapshot, normalise_doc_number). Updates are rare and go through the
    service.
    """

    def __init__(
        self, db: Session, settings: dict[str, Any], report: ImportReport, publish: bool
    ) -> None:
        self.db = db
        self.report = report
        self.section = Section(report.section)
        self.publish = publish
        self.origin = os.path.basename(report.path)
        self.clock: IClock = settings.get("qzt.clock") or SystemClock()
        self.service = ContentService(
            db,
            self.clock,
            LocalFileStorage(settings["qzt.storage_dir"]),
            _ignore,
            settings["qzt.upload.max_bytes"],
        )

    def write(self, batch: list[_Pending]) -> None:
        ids = [p.source_id for p in batch]
        existing = {
            item.source_id: item
            for item in self.db.scalars(select(ContentItem).where(ContentItem.source_id.in_(ids)))
        }
        for pending in batch:
            if pending.source_id in existing:
                self._refresh(pending, existing[pending.source_id])
        fresh = [p for p in batch if p.source_id not in existing]
        if not fresh:
            return
        try:
            with self.db.begin_nested():
                self._insert(fresh)
        except SQLAlchemyError:
            # One bad row spoils a multi-row INSERT: redo the batch one record at a
            # time, so only the culprit is rejected.
            for pending in fresh:
                self._guarded(pending, self._insert_one)
        else:
            self.report.created += len(fresh)

    def _refresh(self, pending: _Pending, item: ContentItem) -> None:
        """Update an item imported before, if the record says something new."""
        if item.section != self.section:
            self.report.reject(
                pending.line, f"already imported into section {item.section}", pending.source_id
            )
            return
        changes = changed_fields(item, pending.data)
        if not changes:
            self.report.unchanged += 1
            return
        # Only the document changes: its workflow state belongs to the editors now.
        self._guarded(pending, self._update, changes, item)

    def _guarded(self, pending: _Pending, write: Any, *args: Any) -> None:
        """Run ``write`` in a savepoint; a refusal rejects this record only."""
        try:
            with self.db.begin_nested():
                write(pending, *args)
        except (InputError, SQLAlchemyError) as error:
            reason = error.message if isinstance(error, InputError) else type(error).__name__
            self.report.reject(pending.line, f"not saved: {reason}", pending.source_id)

    def _update(self, _pending: _Pending, changes: dict[str, Any], item: ContentItem) -> None:
        self.service.update(item, changes, None)
        self.report.updated += 1
        self.report.changed_ids.append(item.id)

    def _insert_one(self, pending: _Pending) -> None:
        self._insert([pending])
        self.report.created += 1

    def _insert(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        now = self.clock.now()
        items = [self._new_item(pending, now) for pending in batch]
        self.db.add_all(items)
        self.db.flush()
        for pending, item in zip(batch, items, strict=True):
            self.db.add(
                Revision(content_id=item.id, version=1, title=item.title,
                         data=snapshot(item), author_id=None, created_at=now)
            )  # fmt: skip
            self.db.add_all(self._events(pending, item, now))
        self.db.flush()
        self.report.changed_ids.extend(item.id for item in items)

    def _new_item(self, pending: _Pending, now: datetime) -> ContentItem:
        data = pending.data
        item = ContentItem(
            section=self.section.value,
            state=(State.PUBLISHED if self.publish else State.DRAFT).value,
            source_id=pending.source_id,
            doc_number_key=normalise_doc_number(data["doc_number"]) if data["doc_number"] else None,
            created_at=now,
            updated_at=now,
            version=1,
            **{name: data.get(name) for name in EDITABLE},
        )
        item.industry_rows = []  # known empty: snapshot() must not query for them
        if self.publish:
            published = data["publish_date"]
            # Noon in the city, so the date reads the same in UTC and local time.
            item.published_at = (
                datetime.combine(published, time(12), LOCAL_TZ) if published else now
            )
        return item

    def _events(self, pending: _Pending, item: ContentItem, now: datetime) -> list[WorkflowEvent]:
        """The history ContentService would have written: created, then submit and publish."""
        steps = [("created", "", State.DRAFT, "")]
        if self.publish:
            comment = f"{self.origin}:{pending.line}"
            steps += [
                ("submit", State.DRAFT, State.PENDING, comment),
                ("publish", State.PENDING, State.PUBLISHED, comment),
            ]
        # A microsecond apart: history is ordered by time, and equal times would let
        # the database list "published" before "created".
        return [
            WorkflowEvent(content_id=item.id, transition=name, from_state=source, to_state=target,
                          actor_id=None, comment=comment, at=now + timedelta(microseconds=n))
            for n, (name, source, target, comment) in enumerate(steps)
        ]  # fmt: skip


def _ignore(_event: Any) -> None:
    """A command-line import has no subscribers; search is rebuilt from the database."""


def import_file(
    db: Session,
    settings: dict[str, Any],
    path: str,
    section: str = Section.REGULATION.value,
    publish: bool = True,
    limit: int | None = None,
) -> ImportReport:
    """Import the JSON Lines file at ``path`` into ``section``; the caller commits."""
    started = timer.perf_counter()
    report = ImportReport(path=path, section=Section(section).value)
    importer = Importer(db, settings, report, publish)
    seen: dict[str, int] = {}
    batch: list[_Pending] = []
    try:
        for line, raw in read_records(path):
            if limit is not None and report.read >= limit:
                break
            report.read += 1
            pending = _check(report, seen, line, raw)
            if pending is not None:
                batch.append(pending)
            if len(batch) >= BATCH_SIZE:
                importer.write(batch)
                batch = []
    except OSError as error:
        report.rejections.append(f"{path}: cannot read ({error.strerror or error})")
    if batch:
        importer.write(batch)
    db.flush()
    report.seconds = timer.perf_counter() - started
    return report


def _check(report: ImportReport, seen: dict[str, int], line: int, raw: Any) -> _Pending | None:
    """The record ready to write, or None after recording why it was rejected."""
    if isinstance(raw, RecordError):
        report.reject(line, str(raw))
        return None
    try:
        source_id, data = map_record(raw)
    except RecordError as error:
        known = raw.get("id") if isinstance(raw, dict) else None
        report.reject(line, str(error), known if isinstance(known, str) else None)
        return None
    if source_id in seen:
        report.reject(line, f"duplicate id, first seen on line {seen[source_id]}", source_id)
        return None
    seen[source_id] = line
    return _Pending(line, source_id, data)
