"""纪要: the head's minutes of a meeting, visible to both sides, and the case it may open.

Once the meeting has begun, the head writes the minutes; the enterprise side reads
them on the same page and is told by mail. When what was said calls for follow-up
by the complaints desk, the head opens a case from the minutes
(``ICaseService.open_case`` with source ``meeting``): the case then follows the
12345 workflow like one filed through the form, and the minutes link to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import colander
import deform
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from forms import CSRFSchema, FormView
from portal.clock import IClock
from portal.db import Base
from portal.errors import InputError
from portal.i18n import N_, _
from portal.meetings.models import Booking, BookingState
from portal.permissions import Permission as Perm

if TYPE_CHECKING:
    from portal.accounts.models import User

MAX_MINUTES_CHARS = 20_000
#: the complaint types the head may open from minutes, with their labels
CASE_KINDS = (
    ("consult", N_("Consultation")),
    ("help", N_("Request for help")),
    ("complaint", N_("Complaint")),
    ("report", N_("Report")),
    ("suggestion", N_("Suggestion")),
)


class Minutes(Base):
    __tablename__ = "meeting_minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), unique=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The case opened from these minutes. No foreign key: the complaints tables come
    # with a later migration and the case keeps its own link back (source_ref).
    case_id: Mapped[int | None] = mapped_column(Integer)
    case_number: Mapped[str] = mapped_column(String(40), default="")


def minutes_of(session: Session, booking_id: int) -> Minutes | None:
    return session.scalar(select(Minutes).where(Minutes.booking_id == booking_id))


def write(session: Session, booking: Booking, author: User, body: str, now: datetime) -> Minutes:
    """Save the head's minutes (a first version or an edit)."""
    if author.id != booking.head_id:
        raise InputError("body", N_("Only the head of the meeting writes its minutes."))
    if booking.state in (BookingState.CANCELLED, BookingState.DECLINED) or now < booking.starts_at:
        raise InputError("body", N_("Minutes can be written once the meeting has begun."))
    body = (body or "").strip()
    if not body:
        raise InputError("body", N_("The minutes are empty."))
    if len(body) > MAX_MINUTES_CHARS:
        raise InputError("body", N_("The minutes are too long (at most 20,000 characters)."))
    found = minutes_of(session, booking.id)
    if found is None:
        found = Minutes(booking_id=booking.id, body=body, created_at=now, case_number="")
        session.add(found)
    found.body = body
    found.author_id = author.id
    found.updated_at = now
    session.flush()
    return found


def notify(request: Request, booking: Booking) -> None:
    """Tell the enterprise user who asked that the minutes are there, in their language."""
    from portal.mail.interfaces import IMailer
    from portal.meetings.notify import localizers

    requester = booking.requester
    if requester is None or not requester.email:
        return
    registry = request.registry
    localizer = registry.setdefault("qzt.meetings.localizers", localizers(registry))(
        requester.locale
    )
    url = request.route_url("meetings.minutes", id=booking.id)
    subject = localizer.translate(
        _("Minutes of your meeting: ${topic}", mapping={"topic": booking.topic})
    )
    text = localizer.translate(
        _(
            "The head has written the minutes of your meeting. Read them here: ${url}",
            mapping={"url": url},
        )
    )
    request.find_service(IMailer).queue(
        request.dbsession,
        to=[requester.email],
        subject=subject,
        text=text,
        kind="meetings.minutes",
    )


def open_case(request: Request, booking: Booking, minutes: Minutes, kind: str, title: str) -> Any:
    """Open a complaint case from the minutes; once per minutes."""
    from portal.complaints.interfaces import ICaseService

    if minutes.case_id is not None:
        raise InputError(
            "title",
            N_("A case was already opened from these minutes: ${number}."),
            number=minutes.case_number,
        )
    case = request.find_service(ICaseService).open_case(
        request.dbsession,
        kind=kind,
        title=title,
        description=minutes.body,
        enterprise_id=booking.enterprise_id,
        opened_by_user_id=request.user.id,
        department_id=booking.department_id,
        source="meeting",
        source_ref=booking.id,
        contact_email=booking.requester.email if booking.requester else None,
    )
    minutes.case_id = case.id
    minutes.case_number = str(case.number)
    request.dbsession.flush()
    return case


# -- views ---------------------------------------------------------------------------
@view_config(
    route_name="meetings.minutes",
    renderer="portal:templates/meetings/minutes.jinja2",
    permission=Perm.MEETING_VIEW,
)
def show(context: Any, request: Request) -> dict[str, Any]:
    booking = context.booking
    return {
        "booking": booking,
        "minutes": minutes_of(request.dbsession, booking.id),
        "may_write": bool(request.has_permission(Perm.MEETING_MINUTES_WRITE, context)),
    }


class MinutesSchema(CSRFSchema):
    body = colander.SchemaNode(
        colander.String(),
        title=_("Minutes"),
        missing_msg=_("The minutes are empty."),
        validator=colander.Length(
            max=MAX_MINUTES_CHARS,
            max_err=_("The minutes are too long (at most 20,000 characters)."),
        ),
        widget=deform.widget.TextAreaWidget(rows=14),
    )


@view_config(
    route_name="meetings.minutes_edit",
    renderer="portal:templates/meetings/minutes_form.jinja2",
    permission=Perm.MEETING_MINUTES_WRITE,
)
class MinutesForm(FormView):
    schema_class = MinutesSchema
    form_id = "minutes"
    success_message = N_("The minutes were saved; the enterprise can read them now.")

    def appstruct(self) -> dict[str, Any]:
        found = minutes_of(self.request.dbsession, self.context.booking.id)
        return {"body": found.body} if found else {}

    def save(self, appstruct: dict[str, Any]) -> str:
        booking = self.context.booking
        now = self.request.find_service(IClock).now()
        write(self.request.dbsession, booking, self.request.user, appstruct["body"], now)
        notify(self.request, booking)
        return str(self.request.route_url("meetings.minutes", id=booking.id))

    def extra(self) -> dict[str, Any]:
        return {"booking": self.context.booking, "title": _("Write the minutes")}


@colander.deferred
def _default_title(node: colander.SchemaNode, kw: dict[str, Any]) -> str:
    return str(kw["context"].booking.topic)[:100]


class CaseSchema(CSRFSchema):
    kind = colander.SchemaNode(
        colander.String(),
        title=_("Type of case"),
        missing_msg=_("Choose the type of case."),
        validator=colander.OneOf(
            [k for k, _label in CASE_KINDS], msg_err=_("Choose the type of case.")
        ),
        widget=deform.widget.SelectWidget(values=[(k, _(label)) for k, label in CASE_KINDS]),
    )
    title = colander.SchemaNode(
        colander.String(),
        title=_("Case title"),
        default=_default_title,
        missing_msg=_("Give the case a title."),
        validator=colander.Length(
            min=2, max=100, min_err=_("Give the case a title."), max_err=_("The title is too long.")
        ),
    )


@view_config(
    route_name="meetings.minutes_case",
    renderer="portal:templates/meetings/minutes_form.jinja2",
    permission=Perm.MEETING_MINUTES_WRITE,
)
class CaseForm(FormView):
    schema_class = CaseSchema
    form_id = "minutes-case"
    buttons = (("open", N_("Open the case")),)
    success_message = N_("A case was opened from the minutes.")

    def save(self, appstruct: dict[str, Any]) -> str:
        booking = self.context.booking
        found = minutes_of(self.request.dbsession, booking.id)
        if found is None:
            raise InputError("title", N_("Write the minutes before opening a case from them."))
        open_case(self.request, booking, found, appstruct["kind"], appstruct["title"].strip())
        return str(self.request.route_url("meetings.minutes", id=booking.id))

    def extra(self) -> dict[str, Any]:
        return {"booking": self.context.booking, "title": _("Open a case from the minutes")}
