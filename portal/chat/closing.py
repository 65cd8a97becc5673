"""After a conversation: the enterprise's rating, the transcript by email, and the
staff's one step from a conversation to a complaint case.

The transcript is mailed however the conversation ended (closed by staff in the
console, by the enterprise, by the realtime server when a waiting visitor left): a
periodic job picks up every closed conversation whose transcript has not been sent,
and the HTTP paths that close one mail it at once. ``dedupe_key`` makes the mail
exactly-once even when the job in two processes and a view race for it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pyramid.i18n import Localizer, make_localizer
from pyramid.interfaces import ITranslationDirectories
from pyramid.registry import Registry
from pyramid.request import Request, apply_request_extensions
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.chat.interfaces import ChatError, IChatService
from portal.chat.models import CloseReason, Conversation, ConvState
from portal.chat.views import actor_of, chat_service, done, refused, translate
from portal.clock import IClock, local
from portal.complaints.interfaces import ICaseService
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_, _
from portal.mail.interfaces import IMailer
from portal.permissions import Permission as Perm

log = logging.getLogger(__name__)

#: the five levels of 好差评 (国办发〔2019〕51号), best first
RATINGS = (
    (5, N_("Very satisfied")),
    (4, N_("Satisfied")),
    (3, N_("Basically satisfied")),
    (2, N_("Dissatisfied")),
    (1, N_("Very dissatisfied")),
)
RATING_LABELS = dict(RATINGS)

MAX_COMMENT = 1000

#: closed conversations mailed per job run (the rest wait for the next run)
TRANSCRIPT_BATCH = 100


# -- the rating ---------------------------------------------------------------------------
def parse_rating(raw: Any, comment: Any) -> tuple[int, str]:
    text = str(raw or "").strip()
    if not (text.isdigit() and int(text) in RATING_LABELS):
        raise InputError("rating", "Choose one of the five ratings.")
    comment = str(comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise InputError(
            "comment", "The comment is too long (at most ${n} characters).", n=MAX_COMMENT
        )
    return int(text), comment


@view_config(
    route_name="chat.rate", request_method="POST", permission=Perm.CHAT_RATE, renderer="json"
)
def rate(context: Conversation, request: Request) -> Any:
    back = request.route_path("chat.conversation", id=context.id)
    try:
        rating, comment = parse_rating(request.POST.get("rating"), request.POST.get("comment"))
        chat_service(request).rate(
            request.dbsession, actor_of(request), context.id, rating, comment
        )
    except (InputError, ChatError) as error:
        return refused(request, error, back)
    queue_transcript(request.dbsession, request, context)
    return done(request, translate(request, N_("Thank you for your rating.")), back, rating=rating)


# -- the transcript -----------------------------------------------------------------------
def mail_localizer(registry: Registry) -> Localizer:
    """Mail goes out in the portal's default language (Chinese), whoever triggered it."""
    dirs = registry.queryUtility(ITranslationDirectories, default=[])
    return make_localizer(registry.settings["pyramid.default_locale_name"], dirs)


def job_request(registry: Registry) -> Request:
    """A request outside any HTTP exchange, so a job finds services as views do."""
    request = Request.blank("/", base_url=registry.settings["qzt.public_url"])
    request.registry = registry
    apply_request_extensions(request)
    return request


def queue_transcript(db: Session, request: Request, conv: Conversation) -> bool:
    """Queue the transcript of a closed conversation to the enterprise user who opened
    it; True if this call queued it. Safe to call any number of times."""
    if conv.state != ConvState.CLOSED or conv.transcript_sent_at is not None:
        return False
    conv.transcript_sent_at = request.find_service(IClock).now()
    opener = db.get(User, conv.user_id)
    department = db.get(Department, conv.department_id)
    if opener is None or not opener.email or department is None:
        return False  # nobody to send it to: marked, so the job does not retry forever
    t = mail_localizer(request.registry).translate
    body = request.find_service(IChatService).transcript(db, conv.id, lambda s: t(_(s)))
    started = local(conv.created_at).strftime("%Y-%m-%d %H:%M")
    subject = t(
        _(
            "Transcript of your conversation with ${department} (${date})",
            mapping={"department": department.name, "date": started},
        )
    )
    intro = t(
        _(
            "Dear ${name}, this is the record of your online conversation with ${department}.",
            mapping={"name": opener.display_name, "department": department.name},
        )
    )
    public = request.registry.settings["qzt.public_url"].rstrip("/")
    link = public + request.route_path("chat.conversation", id=conv.id)
    footer = t(_("You can read it again and rate it at ${url}", mapping={"url": link}))
    queued = request.find_service(IMailer).queue(
        db,
        to=[opener.email],
        subject=subject,
        text=f"{intro}\n\n{body}\n\n{footer}\n",
        kind="chat_transcript",
        dedupe_key=f"chat-transcript:{conv.id}",
    )
    return queued is not None


def mail_transcripts(db: Session, request: Request) -> int:
    """Mail every closed conversation's transcript not sent yet; returns how many."""
    pending = db.scalars(
        select(Conversation)
        .where(
            Conversation.state == ConvState.CLOSED.value,
            Conversation.transcript_sent_at.is_(None),
        )
        .order_by(Conversation.closed_at)
        .limit(TRANSCRIPT_BATCH)
    ).all()
    return sum(queue_transcript(db, request, conv) for conv in pending)


def transcripts_job(registry: Registry, now: datetime) -> None:
    request = job_request(registry)
    with registry["dbsession_factory"].begin() as db:
        sent = mail_transcripts(db, request)
    if sent:
        log.info("queued %d chat transcripts", sent)


# -- from a conversation to a complaint case ----------------------------------------------
#: the case service keeps at most 5,000 characters of description
CASE_TEXT_MAX = 5000


def transcript_in_chinese(request: Request, conv: Conversation) -> str:
    """The transcript as the department reads it (cases are handled in Chinese)."""
    t = mail_localizer(request.registry).translate
    return str(chat_service(request).transcript(request.dbsession, conv.id, lambda s: t(_(s))))


def case_description(request: Request, transcript: str, conv: Conversation) -> str:
    """The transcript, cut to what a case description holds: a long chat keeps its
    beginning (where the matter is stated) and says where the whole record is."""
    if len(transcript) <= CASE_TEXT_MAX:
        return transcript
    t = mail_localizer(request.registry).translate
    msgid = N_("The whole conversation is no. ${id} in the chat records.")
    note = "\n…\n" + t(_(msgid, mapping={"id": conv.id}))
    return transcript[: CASE_TEXT_MAX - len(note)] + note


@view_config(route_name="chat.to_case", request_method="POST", permission=Perm.CHAT_HANDLE)
def to_case(context: Conversation, request: Request) -> Any:
    """One step: open a complaint case with the transcript and the enterprise as the
    complainant, in the department that holds the chat, and close the chat."""
    back = request.route_path("chat.conversation", id=context.id)
    db = request.dbsession
    if context.case_id is not None:
        error = InputError("case", "This conversation is already case ${id}.", id=context.case_id)
        return refused(request, error, back)
    service = chat_service(request)
    opener = db.get(User, context.user_id)
    department = db.get(Department, context.department_id)
    assert department is not None  # the foreign key cascades
    title = (context.topic or "").strip() or translate(
        request, N_("Online conversation with ${department}"), department=department.name
    )
    savepoint = db.begin_nested()
    try:
        case = request.find_service(ICaseService).open_case(
            db,
            kind="complaint",
            title=title[:200],
            description=case_description(request, transcript_in_chinese(request, context), context),
            enterprise_id=context.enterprise_id,
            opened_by_user_id=context.user_id,
            department_id=context.department_id,
            source="chat",
            source_ref=context.id,
            contact_email=opener.email if opener else None,
        )
        context.case_id = case.id
        if context.state != ConvState.CLOSED:
            service.close(db, actor_of(request), context.id, reason=CloseReason.CASE.value)
        elif context.close_reason != CloseReason.ABANDONED:
            # closed over the websocket a moment ago by the console, then turned into
            # a case: that is why it ended (a missed chat stays counted as missed)
            context.close_reason = CloseReason.CASE.value
    except (InputError, ChatError) as error:
        savepoint.rollback()
        return refused(request, error, back)
    savepoint.commit()
    db.flush()
    queue_transcript(db, request, context)
    message = translate(
        request, N_("Case ${number} was opened from this conversation."), number=case.number
    )
    return done(request, message, back, case_id=case.id, case_number=case.number)
