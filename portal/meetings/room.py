"""The meeting room's pages: the meeting itself, its session for the realtime server,
invitations, and the supervisors' recordings.

The page is only the shell: ``static/meetings/room.js`` opens the camera, connects to
the realtime server with a token from :func:`session` and talks WebRTC with the other
browsers (signalling: ``realtime/meetings.py``). Who may enter when is one rule,
``attendance.seat_for``, which the realtime server applies again on ``meeting.join``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import colander
from pyramid.authorization import DENY_ALL, Allow
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden, HTTPGone, HTTPNotFound
from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from forms import CSRFSchema, FormView
from portal import roles as P
from portal.clock import IClock, local
from portal.i18n import N_, _
from portal.meetings import attendance, recording, room_text
from portal.meetings.attendance import Refusal
from portal.meetings.ice import ice_servers
from portal.permissions import Permission as Perm
from portal.roles import Role
from realtime.tokens import sign

log = logging.getLogger(__name__)

#: roles whose holders speak for a department on the realtime server
_DEPARTMENT_ROLES = frozenset({Role.STAFF, Role.HEAD})


class MeetingRoom:
    """A booking seen from the meeting room's pages; under the booking, whose ACL
    (parties, department, supervisors) applies, plus the head's right to write the
    minutes."""

    __name__ = "room"

    def __init__(self, booking: Any) -> None:
        self.booking = booking
        self.__parent__ = booking

    @property
    def __acl__(self) -> list[Any]:
        return [(Allow, P.user(self.booking.head_id), Perm.MEETING_MINUTES_WRITE)]


class RecordingsDesk:
    """The supervisors' list of recordings."""

    # Only supervisors: administrators manage the portal, they do not watch meetings.
    __acl__ = [(Allow, P.role(Role.SUPERVISOR), Perm.MEETING_RECORDINGS), DENY_ALL]

    def __init__(self, request: Request) -> None:
        from portal.routes import Root

        self.__parent__ = Root(request)


class RecordingResource:
    """A recording with the ACL of the one asking (see ``recording.acl_for``)."""

    def __init__(self, request: Request, found: recording.Recording) -> None:
        self.recording = found
        self.__acl__ = recording.acl_for(found, request.user)
        self.__parent__ = RecordingsDesk(request)


def room_factory(request: Request) -> MeetingRoom:
    from portal.meetings.resources import booking_factory

    return MeetingRoom(booking_factory(request))


def recordings_factory(request: Request) -> RecordingsDesk:
    return RecordingsDesk(request)


def recording_factory(request: Request) -> RecordingResource:
    raw = request.matchdict["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    found = request.dbsession.get(recording.Recording, int(raw))
    if found is None:
        raise KeyError(raw)
    return RecordingResource(request, found)


# -- the meeting page ----------------------------------------------------------------
def _seat_or_refusal(context: MeetingRoom, request: Request) -> attendance.Seat | Refusal:
    if request.user is None:
        raise HTTPForbidden()  # the forbidden view sends a visitor to the login page
    now = request.find_service(IClock).now()
    return attendance.seat_for(request.dbsession, context.booking, request.user, now)


def _refused(request: Request, context: MeetingRoom, refusal: Refusal) -> Response:
    from pyramid.renderers import render_to_response

    log.info(
        "meeting page of booking %s refused to user %s: %s",
        context.booking.id,
        request.authenticated_userid,
        refusal.code,
    )
    mapping = {}
    if refusal.opens_at is not None:
        mapping["time"] = local(refusal.opens_at).strftime("%Y-%m-%d %H:%M")
    response = render_to_response(
        "portal:templates/meetings/room_closed.jinja2",
        {
            "booking": context.booking,
            "refusal": refusal,
            "message": request.localizer.translate(_(refusal.message, mapping=mapping)),
            "party": context.booking.is_party(request.user),
        },
        request=request,
    )
    response.status = 403
    return response


@view_config(
    route_name="meetings.room",
    request_method="GET",
    renderer="portal:templates/meetings/room.jinja2",
    permission=Perm.VIEW,
)
def room(context: MeetingRoom, request: Request) -> Any:
    seat = _seat_or_refusal(context, request)
    if isinstance(seat, Refusal):
        return _refused(request, context, seat)
    booking = context.booking
    return {
        "booking": booking,
        "seat": seat,
        "config": {
            "meeting": booking.id,
            "session": request.route_path("meetings.room_session", id=booking.id),
            "user": seat.user_id,
            "name": seat.name,
            "host": seat.is_host,
            "ends_at": booking.ends_at.isoformat(),
        },
        "texts": room_text.translated(request.localizer, room_text.PAGE),
        "party": booking.is_party(request.user),
    }


def _claims(user: Any) -> dict[str, Any]:
    departments = (
        (user.department_id,) if user.roles & _DEPARTMENT_ROLES and user.department_id else ()
    )
    return {
        "user_id": user.id,
        "name": user.display_name,
        "roles": tuple(sorted(r.value for r in user.roles)),
        "departments": departments,
        "enterprise_id": user.enterprise_id,
    }


@view_config(
    route_name="meetings.room_session",
    request_method="GET",
    renderer="json",
    permission=Perm.VIEW,
)
def session(context: MeetingRoom, request: Request) -> dict[str, Any]:
    """What the page needs to (re)connect: a fresh token, the URL, the ICE servers.

    Asked again at every reconnect (tokens live a minute), so a participant whose
    booking was cancelled meanwhile cannot come back.
    """
    request.response.cache_control.no_store = True
    seat = _seat_or_refusal(context, request)
    if isinstance(seat, Refusal):
        request.response.status = 403
        return {"error": seat.code, "message": request.localizer.translate(_(seat.message))}
    settings = request.registry.settings
    now = request.find_service(IClock).now().timestamp()
    ttl = int(settings.get("qzt.realtime.token_ttl") or 60)
    token = sign(
        settings["qzt.realtime.secret"],
        now=now,
        ttl=ttl,
        extra={"meeting": context.booking.id},
        **_claims(request.user),
    )
    return {
        "token": token,
        "url": settings["qzt.realtime.public_url"],
        "ice_servers": ice_servers(settings, f"u{seat.user_id}", now),
    }


# -- invitations -----------------------------------------------------------------------
class InviteSchema(CSRFSchema):
    login = colander.SchemaNode(
        colander.String(),
        title=_("Login name of the person to invite"),
        missing_msg=_("Enter the login name of the person to invite."),
        validator=colander.Length(min=1, max=50, max_err=_("No such login name.")),
    )


@view_config(
    route_name="meetings.room_invite",
    renderer="portal:templates/meetings/room_invite.jinja2",
    permission=Perm.MEETING_JOIN,
)
class InviteForm(FormView):
    """The two parties invite others: the head government staff, the enterprise user
    colleagues of the enterprise."""

    schema_class = InviteSchema
    form_id = "invite"
    buttons = (("invite", N_("Invite")),)
    success_message = N_("Invited. They can open the meeting page at the meeting time.")

    def save(self, appstruct: dict[str, Any]) -> str:
        booking = self.context.booking
        now = self.request.find_service(IClock).now()
        attendance.invite(
            self.request.dbsession, booking, self.request.user, appstruct["login"], now
        )
        return str(self.request.route_url("meetings.room_invite", id=booking.id))

    def extra(self) -> dict[str, Any]:
        booking = self.context.booking
        return {
            "booking": booking,
            "invites": attendance.invites(self.request.dbsession, booking),
        }


# -- recordings (supervisors) -----------------------------------------------------------
@view_config(
    route_name="meetings.recordings",
    request_method=("GET", "HEAD"),
    renderer="portal:templates/meetings/room_recordings.jinja2",
    permission=Perm.MEETING_RECORDINGS,
)
def recordings(context: RecordingsDesk, request: Request) -> dict[str, Any]:
    return {"recordings": recording.in_scope(request.dbsession, request.user)}


@view_config(
    route_name="meetings.recording",
    request_method=("GET", "HEAD"),
    renderer="portal:templates/meetings/room_recording.jinja2",
    permission=Perm.MEETING_RECORDING_PLAY,
)
def recording_page(context: RecordingResource, request: Request) -> dict[str, Any]:
    now = request.find_service(IClock).now()
    recording.log_access(request.dbsession, context.recording, request.user.id, "view", now)
    return {"recording": context.recording, "booking": context.recording.booking}


@view_config(
    route_name="meetings.recording_file",
    request_method=("GET", "HEAD"),
    permission=Perm.MEETING_RECORDING_PLAY,
)
def recording_file(context: RecordingResource, request: Request) -> Response:
    """The file, for the page's ``<video>``; each start of playback is logged."""
    found = context.recording
    file_id = request.matchdict["file"]
    if found.state == "purged":
        raise HTTPGone()
    if file_id not in {f.id for f in found.files}:
        raise HTTPNotFound()
    path = recording.file_path(recording.recording_dir(request.registry.settings), file_id)
    if not os.path.exists(path):
        raise HTTPNotFound()
    range_header = request.headers.get("Range", "")
    if not range_header or range_header.startswith("bytes=0-"):
        now = request.find_service(IClock).now()
        recording.log_access(request.dbsession, found, request.user.id, "play", now, file_id)
    response = FileResponse(path, request=request, content_type="video/webm")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def includeme(config: Configurator) -> None:
    """The meeting room's views and the recordings' retention job (routes: routes.py)."""
    settings = config.get_settings()
    config.add_job(
        "meetings.recordings.purge",
        float(settings["qzt.meetings.purge_every"]),
        recording.purge_job,
    )
    config.scan("portal.meetings.room")
    config.scan("portal.meetings.minutes")
