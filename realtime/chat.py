"""Chat handlers: the protocol's ``chat.*`` messages on top of ``IChatService``.

Every change runs in one worker-thread transaction (``hub.run_db``) that returns the
reply data and the events to announce (built from the service's notes while the
session is open); the handler publishes the events only after the commit, so nobody
is told about a message that is not stored, and the sender's ``chat.ack`` means
"stored". Events: ``conv:<id>`` for everyone joined, ``dept:<id>`` for the staff
consoles' inboxes, ``user:<id>`` for the enterprise user's other tabs and for the
staff member a conversation was assigned to.

``chat.send`` is the exception, being the hot path: it is queued to the process's
``MessageWriter`` (``realtime.writer``), which stores every message queued while its
previous commit was in flight in one transaction, then acknowledges and publishes
them. Handlers that read or change a conversation first wait for the connection's
queued messages (``settled``), so a connection's frames keep their order.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy.orm import Session

from portal.chat.interfaces import ChatActor, ChatForbidden, Draft
from portal.chat.models import Conversation
from portal.chat.service import ChatService, make_chat_service, take_notes
from realtime.dispatch import (
    Connection,
    Hub,
    ProtocolError,
    field,
    handler,
    on_shutdown,
    on_startup,
    reply,
)
from realtime.writer import MessageWriter, settled

Event = tuple[str, dict[str, Any]]

_services: weakref.WeakKeyDictionary[Any, ChatService] = weakref.WeakKeyDictionary()
_writers: weakref.WeakKeyDictionary[Any, MessageWriter] = weakref.WeakKeyDictionary()

JOINED = "chat.joined"  # conn.state key: {conversation id: side}


def chat_service(hub: Hub) -> ChatService:
    svc = _services.get(hub)
    if svc is None:
        svc = _services[hub] = make_chat_service(hub.settings)
    return svc


def writer_of(hub: Hub) -> MessageWriter:
    writer = _writers.get(hub)
    if writer is None:
        writer = _writers[hub] = MessageWriter(hub, chat_service(hub), conv_topic)
        writer.start()
        metrics = getattr(hub, "metrics", None)
        if metrics is not None:
            metrics["chat_writer"] = writer.stats
    return writer


@on_startup
async def _start_writer(hub: Hub) -> None:
    writer_of(hub)


@on_shutdown
async def _stop_writer(hub: Hub) -> None:
    writer = _writers.pop(hub, None)
    if writer is not None:
        await writer.close()


def actor_of(conn: Connection) -> ChatActor:
    actor = conn.state.get("chat.actor")
    if actor is None:
        try:
            actor = conn.state["chat.actor"] = ChatActor.from_claims(conn.claims)
        except ChatForbidden as exc:
            raise ProtocolError("forbidden", "sign in first") from exc
    return actor


def conv_topic(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def collect(svc: ChatService, session: Session) -> list[Event]:
    """Events for everything the service noted in this session (call before commit)."""
    taken = take_notes(session)
    events: list[Event] = []
    for message in taken.messages:
        events.append(
            (
                conv_topic(message.conversation_id),
                {"type": "chat.message", "message": message.as_json()},
            )
        )
    for conv, what in taken.conversations:
        data = conv.as_json()
        state = {"type": "chat.state", "event": what, "conversation": data}
        events.append((conv_topic(conv.id), state))
        events.append((f"user:{conv.user_id}", state))
        events.append(
            (
                f"dept:{conv.department_id}",
                {"type": "chat.inbox.changed", "department": conv.department_id},
            )
        )
        if what == "assigned" and conv.staff_id is not None:
            events.append(
                (f"user:{conv.staff_id}", {"type": "chat.assigned", "conversation": data})
            )
    for department_id in sorted(taken.queues):
        for conv_id, info in svc.queue_infos(session, department_id).items():
            events.append(
                (
                    conv_topic(conv_id),
                    {"type": "chat.queue", "conversation": conv_id, "queue": info.as_json()},
                )
            )
    return _dedupe(events)


def _dedupe(events: list[Event]) -> list[Event]:
    # One operation may note a conversation twice (opened, then assigned): announce
    # each (topic, type, conversation) once, with its final state, at its last place.
    last: dict[tuple[str, str, Any, Any], int] = {}
    for i, (topic, message) in enumerate(events):
        conv = message.get("conversation")
        key_conv = conv.get("id") if isinstance(conv, dict) else conv
        if message["type"] in ("chat.message",):
            continue
        last[(topic, message["type"], key_conv, message.get("event"))] = i
    keep = []
    for i, (topic, message) in enumerate(events):
        conv = message.get("conversation")
        key_conv = conv.get("id") if isinstance(conv, dict) else conv
        key = (topic, message["type"], key_conv, message.get("event"))
        if message["type"] == "chat.message" or last.get(key) == i:
            keep.append((topic, message))
    return keep


async def announce(hub: Hub, events: list[Event]) -> None:
    for topic, message in events:
        await hub.publish(topic, message)


async def join(hub: Hub, conn: Connection, conversation_id: int, side: str) -> None:
    """Subscribe ``conn`` to the conversation and wait until the broker delivers it,
    so that a sync read afterwards misses nothing published later."""
    conn.state.setdefault(JOINED, {})[conversation_id] = side
    await hub.subscribe(conn, conv_topic(conversation_id))


# -- conversations --------------------------------------------------------------------


@handler("chat.open")
async def open_(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    department = field(message, "department", int)
    topic = field(message, "topic", str, optional=True) or ""
    svc = chat_service(hub)

    def work(session: Session) -> tuple[dict[str, Any], Any, list[Event]]:
        conv = svc.open_conversation(session, actor, department, topic)
        info = svc.queue_info(session, conv.id)
        events = collect(svc, session)
        return conv.as_json(), info.as_json() if info else None, events

    data, queue, events = await hub.run_db(work)
    await join(hub, conn, data["id"], "enterprise")
    await conn.send(reply(message, "chat.opened", conversation=data, queue=queue))
    await announce(hub, events)


@handler("chat.join")
async def join_(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    await settled(conn)  # the connection's queued messages first
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    since = field(message, "since", int, optional=True) or 0
    svc = chat_service(hub)

    def check(session: Session) -> str:
        conv = svc.get(session, actor, conv_id)
        return str(svc.side_of(actor, conv))

    side = await hub.run_db(check)
    await join(hub, conn, conv_id, side)

    def read(session: Session) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
        conv = svc.get(session, actor, conv_id)
        messages = svc.messages_since(session, actor, conv_id, since, limit=201)
        info = svc.queue_info(session, conv_id)
        return conv.as_json(), [m.as_json() for m in messages], info.as_json() if info else None

    data, messages, queue = await hub.run_db(read)
    await conn.send(
        reply(
            message,
            "chat.joined",
            conversation=data,
            messages=messages[:200],
            more=len(messages) > 200,
            queue=queue,
            side=side,
        )
    )


@handler("chat.leave")
async def leave(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    conv_id = field(message, "conversation", int)
    conn.state.get(JOINED, {}).pop(conv_id, None)
    hub.unsubscribe(conn, conv_topic(conv_id))
    await conn.send(reply(message, "chat.left", conversation=conv_id))


@handler("chat.sync")
async def sync(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    await settled(conn)  # the connection's queued messages first
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    since = field(message, "since", int, optional=True) or 0
    limit = min(max(field(message, "limit", int, optional=True) or 200, 1), 500)
    svc = chat_service(hub)

    def read(session: Session) -> list[dict[str, Any]]:
        found = svc.messages_since(session, actor, conv_id, since, limit=limit + 1)
        return [m.as_json() for m in found]

    messages = await hub.run_db(read)
    await conn.send(
        reply(
            message,
            "chat.messages",
            conversation=conv_id,
            messages=messages[:limit],
            more=len(messages) > limit,
        )
    )


@handler("chat.history")
async def history(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    svc = chat_service(hub)

    def read(session: Session) -> list[dict[str, Any]]:
        return [c.as_json() for c in svc.history(session, actor)]

    await conn.send(reply(message, "chat.history", conversations=await hub.run_db(read)))


@handler("chat.inbox")
async def inbox(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    view = field(message, "view", str)
    department = field(message, "department", int, optional=True)
    svc = chat_service(hub)

    def read(session: Session) -> list[dict[str, Any]]:
        return [c.as_json() for c in svc.inbox(session, actor, view, department)]

    await conn.send(reply(message, "chat.inbox", view=view, conversations=await hub.run_db(read)))


async def _change(
    hub: Hub, conn: Connection, message: dict[str, Any], reply_type: str, fn: Any
) -> dict[str, Any]:
    """Run ``fn(session) -> Conversation`` in a transaction, reply, then announce."""
    await settled(conn)  # "send, then close" stores the message before closing
    svc = chat_service(hub)

    def work(session: Session) -> tuple[dict[str, Any], list[Event]]:
        conv: Conversation = fn(session)
        return conv.as_json(), collect(svc, session)

    data, events = await hub.run_db(work)
    await conn.send(reply(message, reply_type, conversation=data))
    await announce(hub, events)
    return data


@handler("chat.claim")
async def claim(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    svc = chat_service(hub)
    await join(hub, conn, conv_id, "staff")
    await _change(hub, conn, message, "chat.claimed", lambda s: svc.claim(s, actor, conv_id))


@handler("chat.transfer")
async def transfer(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    to_staff = field(message, "staff", int, optional=True)
    to_dept = field(message, "department", int, optional=True)
    note = field(message, "note", str, optional=True) or ""
    svc = chat_service(hub)

    await _change(
        hub,
        conn,
        message,
        "chat.transferred",
        lambda s: svc.transfer(
            s, actor, conv_id, to_staff_id=to_staff, to_department_id=to_dept, note=note
        ),
    )


@handler("chat.close")
async def close(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    svc = chat_service(hub)

    await _change(hub, conn, message, "chat.closed", lambda s: svc.close(s, actor, conv_id))


@handler("chat.rate")
async def rate(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    rating = field(message, "rating", int)
    comment = field(message, "comment", str, optional=True) or ""
    svc = chat_service(hub)

    await _change(
        hub, conn, message, "chat.rated", lambda s: svc.rate(s, actor, conv_id, rating, comment)
    )


@handler("chat.queue")
async def queue(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    svc = chat_service(hub)

    def read(session: Session) -> Any:
        svc.get(session, actor, conv_id)
        info = svc.queue_info(session, conv_id)
        return info.as_json() if info else None

    await conn.send(
        reply(message, "chat.queue", conversation=conv_id, queue=await hub.run_db(read))
    )


@handler("chat.canned")
async def canned(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    department = field(message, "department", int, optional=True)
    if department is None:
        department = next(iter(actor.departments), None)
    if department is None or not actor.handles(department):
        raise ProtocolError("forbidden", "not your department")
    svc = chat_service(hub)

    def read(session: Session) -> list[dict[str, Any]]:
        return [r.as_json() for r in svc.canned_replies(session, department)]

    await conn.send(
        reply(message, "chat.canned", department=department, replies=await hub.run_db(read))
    )


@handler("chat.unread")
async def unread(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    await settled(conn)  # the connection's queued messages first
    actor = actor_of(conn)
    svc = chat_service(hub)
    counts = await hub.run_db(lambda s: svc.unread_counts(s, actor))
    await conn.send(reply(message, "chat.unread", counts={str(k): v for k, v in counts.items()}))


# -- messages -------------------------------------------------------------------------


@handler("chat.send")
async def send(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    draft = Draft(
        actor_of(conn),
        field(message, "conversation", int),
        field(message, "client_msg_id", str),
        field(message, "body", str, optional=True) or "",
        field(message, "kind", str, optional=True) or "text",
        field(message, "attachment", str, optional=True),
    )
    chat_service(hub).check_draft(draft)
    # Stored, acknowledged and published by the writer with the other messages of its
    # batch (see realtime.writer); this connection's next frames are read meanwhile.
    writer_of(hub).submit(conn, draft, message)


@handler("chat.typing")
async def typing(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    is_typing = field(message, "typing", bool)
    side = conn.state.get(JOINED, {}).get(conv_id)
    if side not in ("enterprise", "staff"):
        raise ProtocolError("forbidden", "join the conversation first")
    await hub.publish(
        conv_topic(conv_id),
        {
            "type": "chat.typing",
            "conversation": conv_id,
            "user": actor.user_id,
            "name": actor.name,
            "side": side,
            "typing": is_typing,
        },
    )
    if "ref" in message:  # only when asked: typing is fire-and-forget for browsers
        await conn.send(reply(message, "chat.typing.ok", conversation=conv_id))


@handler("chat.read")
async def read(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    await settled(conn)  # the connection's queued messages first
    actor = actor_of(conn)
    conv_id = field(message, "conversation", int)
    seq = field(message, "seq", int)
    svc = chat_service(hub)

    def work(session: Session) -> tuple[str, int]:
        conv = svc.get(session, actor, conv_id)
        side = str(svc.side_of(actor, conv))
        return side, svc.mark_read(session, actor, conv_id, seq)

    side, mark = await hub.run_db(work)
    event = {"type": "chat.read", "conversation": conv_id, "side": side, "seq": mark}
    await conn.send(reply(message, "chat.read", conversation=conv_id, side=side, seq=mark))
    await hub.publish(conv_topic(conv_id), event)
