"""Keeping the index in step with the database: outbox, after-commit writes, repair.

1. A content change fires ``ContentChanged``; :meth:`Indexer.enqueue` adds an outbox
   row in the same transaction and remembers the item on the session.
2. When that session commits, :func:`_after_commit` drains those items at once, so
   the index follows within the request (well under a second).
3. Draining takes the index's write lock *first*, then reads the items' committed
   state, writes, commits the index, and only then deletes the outbox rows. Reading
   under the lock means whichever process writes last writes the newest state; and a
   crash anywhere before the delete leaves the rows for the next drain.
4. :class:`Drainer` drains everything at start and every ``drain_interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from portal.clock import IClock
from portal.content.models import ContentItem, State
from portal.searching.documents import document_id, is_searchable, to_document
from portal.searching.models import SearchOutbox
from search.interfaces import ISearchService

log = logging.getLogger(__name__)

#: session.info keys: content ids changed in this session, and who indexes them
PENDING = "qzt.search.pending"
INDEXER = "qzt.search.indexer"

#: outbox rows handled per index write
DRAIN_BATCH = 500


class Indexer:
    def __init__(self, service: ISearchService, clock: IClock) -> None:
        self.service = service
        self.clock = clock

    def enqueue(self, session: Session, content_id: int) -> None:
        """Record, in ``session``'s transaction, that ``content_id`` needs indexing."""
        session.add(SearchOutbox(content_id=content_id, created_at=self.clock.now()))
        session.info.setdefault(PENDING, set()).add(content_id)
        session.info[INDEXER] = self

    def drain(self, bind: Engine | Connection, only: Iterable[int] | None = None) -> int:
        """Index what the outbox lists (only ``only`` if given); returns rows handled."""
        wanted = sorted(set(only)) if only is not None else None
        handled = 0
        with Session(bind=bind, join_transaction_mode="create_savepoint") as db:
            while self._has_rows(db, wanted):
                count = self._drain_batch(db, wanted)
                handled += count
                if count < DRAIN_BATCH:
                    break
        return handled

    @staticmethod
    def _rows(wanted: list[int] | None) -> Any:
        stmt = select(SearchOutbox.id, SearchOutbox.content_id)
        if wanted is not None:
            stmt = stmt.where(SearchOutbox.content_id.in_(wanted))
        return stmt.order_by(SearchOutbox.id).limit(DRAIN_BATCH)

    def _has_rows(self, db: Session, wanted: list[int] | None) -> bool:
        # A cheap look before taking the index lock, which costs a whoosh writer.
        found = db.execute(self._rows(wanted).limit(1)).first() is not None
        db.rollback()
        return found

    def _drain_batch(self, db: Session, wanted: list[int] | None) -> int:
        with self.service.batch() as batch:
            rows = db.execute(self._rows(wanted)).all()
            ids = {row.content_id for row in rows}
            items = {
                i.id: i for i in db.scalars(select(ContentItem).where(ContentItem.id.in_(ids)))
            }
            documents = {
                content_id: to_document(items[content_id])
                if content_id in items and is_searchable(items[content_id])
                else None
                for content_id in sorted(ids)
            }
            # End the read transaction before the slow index write. On SQLite a
            # transaction that has read and later writes fails at once ("database
            # is locked", no busy wait) if another connection wrote meanwhile; the
            # DELETE below starts a fresh transaction instead.
            db.rollback()
            for content_id, document in documents.items():
                if document is not None:
                    batch.upsert(document)
                else:
                    batch.delete(document_id(content_id))
        # The index has committed: now, and only now, the rows may go.
        db.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([row.id for row in rows])))
        db.commit()
        return len(rows)

    def after_commit(self, bind: Engine | Connection, content_ids: set[int]) -> None:
        try:
            self.drain(bind, only=content_ids)
        except Exception:
            # The change is committed and its outbox rows remain: the next drain
            # repairs the index. A failed index write must not fail the request.
            log.exception("indexing after commit failed; the outbox keeps %s", content_ids)

    def rebuild(self, db: Session) -> int:
        """Replace the whole index with the published items (``qzt reindex``)."""
        last = db.scalar(select(func.max(SearchOutbox.id))) or 0
        count = 0
        with self.service.batch(bulk=True, replace=True) as batch:
            stmt = select(ContentItem).where(ContentItem.state == State.PUBLISHED.value)
            for item in db.scalars(stmt.execution_options(yield_per=500)):
                batch.upsert(to_document(item))
                count += 1
        # Every change listed up to ``last`` was read after it committed. The long read
        # ends first: on SQLite its snapshot could not turn into a write if anyone
        # committed meanwhile (rows added since have ids above ``last``).
        db.rollback()
        db.execute(delete(SearchOutbox).where(SearchOutbox.id <= last))
        return count

    def needs_rebuild(self, db: Session) -> bool:
        """An empty index beside published content: built by an import or a seed that
        bypassed the events, or a new index directory."""
        if self.service.count() > 0:
            return False
        published = select(ContentItem.id).where(ContentItem.state == State.PUBLISHED.value)
        return db.execute(published.limit(1)).first() is not None


def _after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    indexer = session.info.get(INDEXER)
    if pending and indexer is not None:
        indexer.after_commit(session.get_bind(), pending)


def listen() -> None:
    """Watch every Session of this process (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)


class Drainer:
    """Repairs the index at start and then every ``interval`` seconds, in a daemon
    thread of each portal process (several may run; draining is idempotent)."""

    def __init__(self, indexer: Indexer, engine: Engine, interval: int) -> None:
        self.indexer = indexer
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        try:
            with Session(bind=self.engine) as db:
                if self.indexer.needs_rebuild(db):
                    log.info("search index is empty: rebuilding it from the database")
                    self.indexer.rebuild(db)
                    db.commit()
            # Not in sqlite_writer(): the drain's frequent "anything to do?" look
            # would then take SQLite's write lock every time; its writes begin fresh
            # transactions of their own (see _drain_batch), which wait their turn.
            return self.indexer.drain(self.engine)
        except Exception:
            log.exception("search outbox drain failed; will retry")
            return 0

    def _loop(self) -> None:
        self.run_once()
        while self.interval > 0 and not self._stop.wait(self.interval):
            self.run_once()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="search-drain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
