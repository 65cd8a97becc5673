"""Storing many chat messages in one transaction with a handful of Core statements.

The realtime server's writer (``realtime.writer``) hands over every ``chat.send`` that
arrived while its previous commit was in flight; ``post_batch`` stores them with four
statements whatever their number, then the writer commits once. Per batch:

1. ``SELECT … FOR UPDATE`` of the conversations, in id order (two processes locking
   overlapping sets queue behind each other instead of deadlocking). The lock is what
   makes the rest exact: a resend racing its original in another process waits here
   until the original committed, then finds it in step 2. On SQLite the realtime
   engine's ``BEGIN IMMEDIATE`` already holds the one write lock.
2. One ``SELECT`` of the messages already stored under the drafts' client ids
   (``(conversation, sender, client_msg_id) IN …``): resends are answered with them.
3. ``UPDATE`` of each touched conversation (``last_seq``, ``last_message_at``,
   ``first_response_at``) as one executemany: the seqs were counted in Python from
   the locked rows, so one conversation costs one parameter set, not a round trip.
4. One multi-row ``INSERT … RETURNING id`` of the new messages.

Why Core and not the ORM: building, flushing and expiring ``ChatMessage`` objects cost
about 4 ms of CPU per message, more than everything else the server does for it. The
statements below are built once; SQLAlchemy's compiled cache does the rest (``IN``
lists are expanding parameters, so their length does not change the cache key).

Each draft is judged on its own: one refused (closed conversation, someone else's,
unknown attachment) gets its ``ChatError`` while the others are stored. A draft
repeated inside the batch (a client that resent before its first copy was stored)
is stored once; the copy gets the stored message with ``created=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.chat.interfaces import (
    ChatConflict,
    ChatError,
    ChatForbidden,
    ChatInputError,
    ChatNotFound,
    Draft,
    Stored,
)
from portal.chat.models import (
    ChatAttachment,
    ChatMessage,
    Conversation,
    ConvState,
    MessageKind,
    Side,
)
from portal.i18n import N_

if TYPE_CHECKING:
    from portal.chat.service import ChatService

Key = tuple[int, int, str]  # conversation, sender, client_msg_id

#: longest client message id (a UUID in hex is 32)
MAX_CLIENT_ID = 64

_conv = cast(Table, Conversation.__table__)
_msg = cast(Table, ChatMessage.__table__)
_att = cast(Table, ChatAttachment.__table__)

_LOCKED_COLUMNS = (
    _conv.c.id,
    _conv.c.enterprise_id,
    _conv.c.user_id,
    _conv.c.department_id,
    _conv.c.staff_id,
    _conv.c.state,
    _conv.c.last_seq,
    _conv.c.first_response_at,
)
_ATTACHMENT_COLUMNS = (
    _att.c.id.label("att_id"),
    _att.c.conversation_id.label("att_conversation"),
    _att.c.filename.label("att_filename"),
    _att.c.media_type.label("att_media_type"),
    _att.c.size.label("att_size"),
)
_STORED = select(
    _msg.c.id,
    _msg.c.conversation_id,
    _msg.c.seq,
    _msg.c.sender_id,
    _msg.c.sender_side,
    _msg.c.sender_name,
    _msg.c.client_msg_id,
    _msg.c.kind,
    _msg.c.body,
    _msg.c.data,
    _msg.c.created_at,
    *_ATTACHMENT_COLUMNS,
).outerjoin(_att, _att.c.id == _msg.c.attachment_id)
_KEY = tuple_(_msg.c.conversation_id, _msg.c.sender_id, _msg.c.client_msg_id)
#: the columns a new message row gets (``data`` stays NULL: only system lines have it)
_NEW = (
    "conversation_id",
    "seq",
    "sender_id",
    "sender_side",
    "sender_name",
    "client_msg_id",
    "kind",
    "body",
    "attachment_id",
)

ATTACHMENTS = select(*_ATTACHMENT_COLUMNS).where(_att.c.id.in_(bindparam("ids", expanding=True)))


class Portable:
    """The four statements in plain SQL (SQLite): ``IN`` lists, an executemany
    ``UPDATE`` and SQLAlchemy's multi-row ``INSERT … VALUES … RETURNING``."""

    lock = (
        select(*_LOCKED_COLUMNS)
        .where(_conv.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(_conv.c.id)
        .with_for_update()
    )
    stored = _STORED.where(_KEY.in_(bindparam("keys", expanding=True)))
    advance = (
        update(_conv)
        .where(_conv.c.id == bindparam("b_id"))
        .values(
            last_seq=bindparam("b_seq"),
            last_message_at=bindparam("b_at", type_=_conv.c.last_message_at.type),
            first_response_at=func.coalesce(
                _conv.c.first_response_at,
                bindparam("b_first", type_=_conv.c.first_response_at.type),
            ),
        )
    )
    insert = _msg.insert().returning(_msg.c.id, sort_by_parameter_order=True)

    def locked(self, conn: Connection, ids: list[int]) -> Sequence[Any]:
        return conn.execute(self.lock, {"ids": ids}).all()

    def find(self, conn: Connection, keys: list[Key]) -> Sequence[Any]:
        return conn.execute(self.stored, {"keys": keys}).all()

    def advance_all(
        self, conn: Connection, at: datetime, seqs: dict[int, int], first: dict[int, Any]
    ) -> None:
        conn.execute(
            self.advance,
            [{"b_id": c, "b_seq": seqs[c], "b_at": at, "b_first": first[c]} for c in seqs],
        )

    def insert_all(self, conn: Connection, at: datetime, rows: list[tuple[Any, ...]]) -> list[int]:
        params = [{**dict(zip(_NEW, row, strict=True)), "created_at": at} for row in rows]
        return list(conn.execute(self.insert, params).scalars())


def _array(name: str, item: Any) -> Any:
    return bindparam(name, type_=postgresql.ARRAY(item))


def _unnest(*columns: tuple[str, Any]) -> Any:
    return (
        func.unnest(*(_array(name, item) for name, item in columns))
        .table_valued(*(name for name, _item in columns))
        .render_derived()
    )


_keys = _unnest(("k_conv", Integer), ("k_sender", Integer), ("k_client", String))
_steps = _unnest(("u_id", Integer), ("u_seq", Integer), ("u_first", DateTime(timezone=True)))
_rows = _unnest(*((name, _msg.c[name].type) for name in _NEW))


class Postgres(Portable):
    """The same on PostgreSQL with one array parameter per column (``unnest``): the SQL
    text never changes with the batch's size, so psycopg parses it once (a 100-row
    ``VALUES`` list re-parsed per batch cost more CPU than the rest of the batch) and
    the server prepares it once; the ``UPDATE`` is one statement instead of one per
    conversation."""

    lock = (
        select(*_LOCKED_COLUMNS)
        .where(_conv.c.id == any_(_array("ids", Integer)))
        .order_by(_conv.c.id)
        .with_for_update()
    )
    stored = _STORED.where(_KEY.in_(select(_keys.c.k_conv, _keys.c.k_sender, _keys.c.k_client)))
    advance = (
        update(_conv)
        .where(_conv.c.id == _steps.c.u_id)
        .values(
            last_seq=_steps.c.u_seq,
            last_message_at=bindparam("at", type_=_conv.c.last_message_at.type),
            first_response_at=func.coalesce(_conv.c.first_response_at, _steps.c.u_first),
        )
    )
    insert = (
        _msg.insert()
        .from_select(
            [*_NEW, "created_at"],
            select(
                *[_rows.c[name] for name in _NEW],
                bindparam("at", type_=_msg.c.created_at.type),
            ),
        )
        .returning(_msg.c.id, _msg.c.conversation_id, _msg.c.seq)
    )

    def locked(self, conn: Connection, ids: list[int]) -> Sequence[Any]:
        return conn.execute(self.lock, {"ids": ids}).all()

    def find(self, conn: Connection, keys: list[Key]) -> Sequence[Any]:
        conv, sender, client = (list(column) for column in zip(*keys, strict=True))
        params = {"k_conv": conv, "k_sender": sender, "k_client": client}
        return conn.execute(self.stored, params).all()

    def advance_all(
        self, conn: Connection, at: datetime, seqs: dict[int, int], first: dict[int, Any]
    ) -> None:
        ids = list(seqs)
        params = {
            "u_id": ids,
            "u_seq": [seqs[c] for c in ids],
            "u_first": [first[c] for c in ids],
            "at": at,
        }
        conn.execute(self.advance, params)

    def insert_all(self, conn: Connection, at: datetime, rows: list[tuple[Any, ...]]) -> list[int]:
        params: dict[str, Any] = {
            name: list(column) for name, column in zip(_NEW, zip(*rows, strict=True), strict=True)
        }
        params["at"] = at
        # RETURNING's order is not promised for INSERT … SELECT: match by (conv, seq).
        ids = {(c, s): i for i, c, s in conn.execute(self.insert, params)}
        return [ids[(row[0], row[1])] for row in rows]


_DIALECTS: dict[str, Portable] = {"postgresql": Postgres()}
_PORTABLE = Portable()


def statements(conn: Connection) -> Portable:
    return _DIALECTS.get(conn.dialect.name, _PORTABLE)


def _attachment_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.att_id,
        "filename": row.att_filename,
        "media_type": row.att_media_type,
        "size": row.att_size,
    }


def message_json(row: Any) -> dict[str, Any]:
    """The protocol's message object from a row of ``STORED_BY_CLIENT_ID`` (the same
    keys as ``ChatMessage.as_json``)."""
    data: dict[str, Any] = {
        "conversation": row.conversation_id,
        "seq": row.seq,
        "id": row.id,
        "client_msg_id": row.client_msg_id,
        "sender": row.sender_id,
        "side": row.sender_side,
        "name": row.sender_name,
        "kind": row.kind,
        "body": row.body,
        "at": row.created_at.isoformat(),
    }
    if row.att_id is not None:
        data["attachment"] = _attachment_json(row)
    if row.data:
        data["data"] = row.data
    return data


def storable(text: str) -> bool:
    """False for text no database column takes: NUL (PostgreSQL refuses it) and lone
    surrogates (which JSON can carry but UTF-8 cannot encode)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_draft(draft: Draft, max_body: int) -> None:
    """What can be refused without the database (also done before queueing). A
    refusal here is the sender's own; one the database would make instead (a value it
    cannot store) would fail the whole batch, which is retried one by one."""
    cid = draft.client_msg_id
    if not isinstance(cid, str) or not cid or len(cid) > MAX_CLIENT_ID or not storable(cid):
        raise ChatInputError("client_msg_id", N_("Invalid client message id."))
    body = (draft.body or "").strip()
    if not storable(body):
        raise ChatInputError("body", N_("The message contains characters that cannot be sent."))
    if draft.kind == MessageKind.TEXT:
        if not body:
            raise ChatInputError("body", N_("Write a message first."))
    elif draft.kind == MessageKind.ATTACHMENT:
        if not draft.attachment_id:
            raise ChatInputError("attachment", N_("Unknown attachment."))
    else:
        raise ChatInputError("kind", N_("Unknown message kind."))
    if len(body) > max_body:
        raise ChatInputError("body", N_("The message is too long."))


def post_batch(svc: ChatService, session: Session, drafts: Sequence[Draft]) -> list[Any]:
    """See ``IChatService.post_batch``; ``svc`` gives the clock, limits and access rules."""
    results: list[Stored | ChatError | None] = [None] * len(drafts)
    live = []
    for i, draft in enumerate(drafts):
        try:
            check_draft(draft, svc.max_body)
        except ChatError as exc:
            results[i] = exc
        else:
            live.append(i)
    if not live:
        return results
    conn = session.connection()
    sql = statements(conn)
    ids = sorted({drafts[i].conversation_id for i in live})
    convs = {row.id: row for row in sql.locked(conn, ids)}

    sides: dict[int, str] = {}
    for i in live:
        draft = drafts[i]
        row = convs.get(draft.conversation_id)
        # the row has the columns side_of reads (enterprise, user, department, staff)
        side = svc.side_of(draft.actor, cast(Any, row)) if row is not None else None
        if side is None:
            results[i] = ChatNotFound(f"conversation {draft.conversation_id}")
        elif side not in (Side.ENTERPRISE, Side.STAFF):
            results[i] = ChatForbidden("read-only")
        else:
            sides[i] = side

    def key(i: int) -> Key:
        d = drafts[i]
        return (d.conversation_id, d.actor.user_id, d.client_msg_id)

    stored: dict[Key, dict[str, Any]] = {}
    if sides:
        keys = sorted({key(i) for i in sides})
        for found in sql.find(conn, keys):
            stored[(found.conversation_id, found.sender_id, found.client_msg_id)] = message_json(
                found
            )
    wanted = sorted(
        {
            str(drafts[i].attachment_id)
            for i in sides
            if drafts[i].kind == MessageKind.ATTACHMENT and key(i) not in stored
        }
    )
    attachments = (
        {row.att_id: row for row in conn.execute(ATTACHMENTS, {"ids": wanted})} if wanted else {}
    )

    fresh: list[int] = []
    first_copy: dict[Key, int] = {}
    twins: dict[int, int] = {}
    for i in sides:
        k = key(i)
        if k in stored:
            results[i] = Stored(stored[k], created=False)
            continue
        if k in first_copy:
            twins[i] = first_copy[k]
            continue
        first_copy[k] = i
        draft, row = drafts[i], convs[drafts[i].conversation_id]
        if row.state == ConvState.CLOSED:
            results[i] = ChatConflict(f"conversation {row.id} is closed")
        elif sides[i] == Side.STAFF and row.staff_id != draft.actor.user_id:
            results[i] = ChatConflict("claim the conversation first")
        elif draft.kind == MessageKind.ATTACHMENT and (
            draft.attachment_id not in attachments
            or attachments[draft.attachment_id].att_conversation != row.id
        ):
            results[i] = ChatInputError("attachment", N_("Unknown attachment."))
        else:
            fresh.append(i)

    if fresh:
        _store(svc, session, drafts, fresh, sides, convs, attachments, results)
    for i, first in twins.items():
        outcome = results[first]
        results[i] = (
            Stored(outcome.message, created=False) if isinstance(outcome, Stored) else outcome
        )
    return results


def _store(
    svc: ChatService,
    session: Session,
    drafts: Sequence[Draft],
    fresh: list[int],
    sides: dict[int, str],
    convs: dict[int, Any],
    attachments: dict[str, Any],
    results: list[Any],
) -> None:
    now = svc.clock.now().astimezone(UTC)
    at = now.isoformat()
    seqs = {cid: row.last_seq for cid, row in convs.items()}
    first_response: dict[int, datetime | None] = {
        cid: row.first_response_at for cid, row in convs.items()
    }
    rows: list[tuple[Any, ...]] = []  # in the order of _NEW
    messages: list[dict[str, Any]] = []
    for i in fresh:
        draft = drafts[i]
        cid, side = draft.conversation_id, sides[i]
        seqs[cid] += 1
        if side == Side.STAFF and first_response[cid] is None:
            first_response[cid] = now
        body = (draft.body or "").strip()
        name = draft.actor.name[:50]
        attachment = draft.attachment_id if draft.kind == MessageKind.ATTACHMENT else None
        uid, cmid, kind = draft.actor.user_id, draft.client_msg_id, draft.kind
        rows.append((cid, seqs[cid], uid, side, name, cmid, kind, body, attachment))
        message: dict[str, Any] = {
            "conversation": cid,
            "seq": seqs[cid],
            "id": None,
            "client_msg_id": cmid,
            "sender": uid,
            "side": side,
            "name": name,
            "kind": kind,
            "body": body,
            "at": at,
        }
        if attachment is not None:
            message["attachment"] = _attachment_json(attachments[attachment])
        messages.append(message)
    touched = sorted({drafts[i].conversation_id for i in fresh})
    conn = session.connection()
    sql = statements(conn)
    sql.advance_all(conn, now, {c: seqs[c] for c in touched}, first_response)
    ids = sql.insert_all(conn, now, rows)
    for i, message, new_id in zip(fresh, messages, ids, strict=True):
        message["id"] = new_id
        results[i] = Stored(message, created=True)
    _sync_loaded(session, touched, seqs, now, first_response)


def _sync_loaded(
    session: Session,
    touched: list[int],
    seqs: dict[int, int],
    now: datetime,
    first_response: dict[int, datetime | None],
) -> None:
    # Core statements bypass the identity map: a Conversation this session already
    # holds (a caller mixing ORM work in) would otherwise show the old last_seq.
    mapper = inspect(Conversation)
    for cid in touched:
        conv = session.identity_map.get(mapper.identity_key_from_primary_key((cid,)))
        if conv is not None:
            set_committed_value(conv, "last_seq", seqs[cid])
            set_committed_value(conv, "last_message_at", now)
            set_committed_value(conv, "first_response_at", first_response[cid])
