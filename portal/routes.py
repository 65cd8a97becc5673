"""Every route of the portal, and the resource factories that turn URL ids into models.

A factory raises ``KeyError`` (a 404) when the object does not exist, so views get the
model as ``context`` and permission checks run against the object's own ACL.
"""

from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, Allow, Authenticated, Everyone
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from sqlalchemy import select

from portal import roles as P
from portal.permissions import Permission as Perm
from portal.roles import Role

#: URL slug -> section value; the public listing URLs
SECTION_SLUGS = {
    "policies": "policy",
    "regulations": "regulation",
    "industry-news": "industry",
    "service-news": "service",
    "interpretations": "interpretation",
}
SLUG_OF_SECTION = {v: k for k, v in SECTION_SLUGS.items()}


class Root:
    """The site-wide ACL: what a role may do before any object is involved."""

    __acl__ = [
        (Allow, P.role(Role.ADMIN), ALL_PERMISSIONS),
        (Allow, Everyone, Perm.VIEW),
        (Allow, Authenticated, Perm.ACCOUNT_SELF),
        (Allow, P.role(Role.EDITOR), (Perm.CONTENT_CREATE, Perm.CONTENT_DASHBOARD)),
        (Allow, P.role(Role.REVIEWER), (Perm.CONTENT_CREATE, Perm.CONTENT_DASHBOARD)),
        (Allow, P.role(Role.SUPERVISOR), (Perm.CONTENT_DASHBOARD, Perm.OVERSIGHT_READ)),
    ]

    def __init__(self, request: Request) -> None:
        self.request = request


def _int_id(request: Request, key: str = "id") -> int:
    raw = request.matchdict[key]
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    return int(raw)


def _located(request: Request, obj: Any) -> Any:
    """Place a model under the site root, so the ACL walk reaches ``Root.__acl__``.

    Objects with their own ACL end it with DENY_ALL (content) or extend the site's
    rules (users); objects without one (departments, leaders, links) simply follow
    the site ACL.
    """
    obj.__parent__ = Root(request)
    return obj


def _get(request: Request, model: Any, ident: Any) -> Any:
    obj = request.dbsession.get(model, ident)
    if obj is None:
        raise KeyError(ident)
    return _located(request, obj)


def content_factory(request: Request) -> Any:
    from portal.content.models import ContentItem

    return _get(request, ContentItem, _int_id(request))


def attachment_factory(request: Request) -> Any:
    from portal.content.models import Attachment

    ident = request.matchdict["id"]
    if not (len(ident) == 32 and ident.isalnum()):
        raise KeyError(ident)
    return _get(request, Attachment, ident)


def department_factory(request: Request) -> Any:
    from portal.departments.models import Department

    found = request.dbsession.scalar(
        select(Department).where(Department.code == request.matchdict["code"])
    )
    if found is None:
        raise KeyError(request.matchdict["code"])
    return _located(request, found)


def _admin_factory(model_path: str) -> Any:
    def factory(request: Request) -> Any:
        module, _, name = model_path.rpartition(".")
        model = getattr(__import__(module, fromlist=[name]), name)
        return _get(request, model, _int_id(request))

    return factory


def _not_found_when_missing(factory: Any) -> Any:
    # Pyramid turns a KeyError into a 404 only during traversal; raised by a route's
    # factory it would be a 500. The factories keep the KeyError idiom, this wrapper
    # gives the visitor the 404 it means.
    def wrapped(request: Request) -> Any:
        try:
            return factory(request)
        except KeyError as exc:
            # the error page checks permissions (the layout's menu) against a context
            request.context = Root(request)
            raise HTTPNotFound() from exc

    return wrapped


def includeme(config: Configurator) -> None:
    config.set_root_factory(Root)

    def add(name: str, pattern: str, factory: Any = None) -> None:
        wrapped = None if factory is None else _not_found_when_missing(factory)
        config.add_route(name, pattern, factory=wrapped)

    add("home", "/")
    add("healthz", "/healthz")
    add("locale", "/locale/{code}")

    # -- public content ---------------------------------------------------------
    add("content.item", "/content/{id}", factory=content_factory)
    add("content.attachment", "/attachments/{id}/{filename}", factory=attachment_factory)
    add("departments.directory", "/departments")
    add("departments.detail", "/departments/{code}", factory=department_factory)
    add("meetings.entry", "/meetings")
    add("search.json", "/search.json")
    add("search", "/search")

    # -- accounts -----------------------------------------------------------------
    add("accounts.register", "/register")
    add("accounts.login", "/login")
    add("accounts.logout", "/logout")
    add("accounts.profile", "/account")
    add("accounts.password", "/account/password")
    add("accounts.enterprise", "/account/enterprise")

    # -- editing and review ---------------------------------------------------------
    add("manage.dashboard", "/manage")
    add("manage.add", "/manage/add/{section}")
    add("manage.edit", "/manage/content/{id}/edit", factory=content_factory)
    add("manage.transition", "/manage/content/{id}/transition", factory=content_factory)
    add("manage.revisions", "/manage/content/{id}/revisions", factory=content_factory)
    add("manage.attachments", "/manage/content/{id}/attachments", factory=content_factory)
    add("manage.attachment_delete", "/manage/attachments/{id}/delete", factory=attachment_factory)

    # -- chat (HTTP side; the conversation itself is on the realtime server) ------------
    from portal.chat import resources as chat

    add("chat.token", "/realtime/token")
    add("chat.mine", "/chat", factory=chat.area_factory)
    add("chat.console", "/chat/console", factory=chat.area_factory)
    add("chat.details", "/chat/details.json", factory=chat.area_factory)
    add("chat.canned", "/chat/canned", factory=chat.area_factory)
    add("chat.canned_edit", "/chat/canned/{id}", factory=chat.canned_factory)
    add("chat.reports", "/chat/reports", factory=chat.area_factory)
    add("chat.oversight", "/chat/oversight", factory=chat.area_factory)
    add("chat.department", "/chat/with/{code}", factory=chat.department_factory)
    add("chat.leave_message", "/chat/with/{code}/message", factory=chat.department_factory)
    add("chat.conversation", "/chat/conversations/{id}", factory=chat.conversation_factory)
    add("chat.rate", "/chat/conversations/{id}/rating", factory=chat.conversation_factory)
    add("chat.to_case", "/chat/conversations/{id}/case", factory=chat.conversation_factory)
    add("chat.upload", "/chat/conversations/{id}/files", factory=chat.conversation_factory)
    add("chat.attachment", "/chat/files/{id}/{filename}", factory=chat.chat_attachment_factory)

    # -- meetings: booking and the meeting room -----------------------------------------
    from portal.meetings import resources as meetings

    add("meetings.mine", "/meetings/mine", factory=meetings.desk_factory)
    add("meetings.calendar", "/meetings/calendar", factory=meetings.desk_factory)
    add("meetings.availability", "/meetings/availability", factory=meetings.desk_factory)
    add("meetings.override_add", "/meetings/availability/overrides", factory=meetings.desk_factory)
    add(
        "meetings.override_delete",
        "/meetings/availability/overrides/{id}/delete",
        factory=meetings.override_factory,
    )
    add("meetings.rules", "/meetings/rules", factory=meetings.desk_factory)
    add("meetings.head", "/meetings/heads/{id}", factory=meetings.head_factory)
    add("meetings.booking", "/meetings/bookings/{id}", factory=meetings.booking_factory)
    add(
        "meetings.booking_action",
        "/meetings/bookings/{id}/action",
        factory=meetings.booking_factory,
    )
    add(
        "meetings.booking_reschedule",
        "/meetings/bookings/{id}/reschedule",
        factory=meetings.booking_factory,
    )
    add(
        "meetings.material",
        "/meetings/materials/{id}/{filename}",
        factory=meetings.material_factory,
    )
    add("meetings.link", "/meetings/link/{token}")
    # the meeting room, its minutes and recordings (portal/meetings/room.py, minutes.py)
    from portal.meetings import room

    room_path = "/meetings/bookings/{id}"
    add("meetings.room", room_path + "/room", factory=room.room_factory)
    add("meetings.room_session", room_path + "/room/session", factory=room.room_factory)
    add("meetings.room_invite", room_path + "/room/invite", factory=room.room_factory)
    add("meetings.minutes", room_path + "/minutes", factory=room.room_factory)
    add("meetings.minutes_edit", room_path + "/minutes/edit", factory=room.room_factory)
    add("meetings.minutes_case", room_path + "/minutes/case", factory=room.room_factory)
    add("meetings.recordings", "/meetings/recordings", factory=room.recordings_factory)
    add("meetings.recording", "/meetings/recordings/{id}", factory=room.recording_factory)
    add(
        "meetings.recording_file",
        "/meetings/recordings/{id}/files/{file}",
        factory=room.recording_factory,
    )

    # -- complaints (cases) and the Open311 API -------------------------------------------
    from portal.complaints import resources as cases

    add("cases.list", "/cases", factory=cases.area_factory)
    add("cases.new", "/cases/new", factory=cases.area_factory)
    add("cases.stats", "/cases/stats", factory=cases.area_factory)
    add("cases.stats_csv", "/cases/stats.csv", factory=cases.area_factory)
    add("cases.catalogue", "/cases/catalogue", factory=cases.area_factory)
    add("cases.detail", "/cases/{id}", factory=cases.case_factory)
    add("cases.transition", "/cases/{id}/transition", factory=cases.case_factory)
    add("cases.note", "/cases/{id}/note", factory=cases.case_factory)
    add("cases.upload", "/cases/{id}/files", factory=cases.case_factory)
    add("cases.file", "/cases/{id}/files/{key}/{filename}", factory=cases.case_attachment_factory)
    add("open311.discovery", "/open311/v2/discovery.{format}")
    add("open311.services", "/open311/v2/services.{format}")
    add("open311.service", "/open311/v2/services/{code}.{format}")
    add("open311.requests", "/open311/v2/requests.{format}")
    add("open311.request", "/open311/v2/requests/{id}.{format}")

    # -- digests and the leader dashboard -------------------------------------------------
    def digests(name: str) -> Any:
        def factory(request: Request) -> Any:
            from portal.digests import resources

            return getattr(resources, name)(request)

        return factory

    add("digests.daily", "/leader", factory=digests("own_desk"))
    add("digests.weekly", "/leader/weekly", factory=digests("weekly_desk"))
    add("digests.daily_for", "/leader/{id}", factory=digests("leader_desk"))
    add("digests.deputy", "/leader/{id}/deputy", factory=digests("leader_desk"))
    # the mail outbox (admin)
    outbox_mail = _admin_factory("portal.mail.models.OutboxMail")
    add("admin.mail", "/admin/mail")
    add("admin.mail_detail", "/admin/mail/{id}", factory=outbox_mail)
    add("admin.mail_html", "/admin/mail/{id}/html", factory=outbox_mail)
    add("admin.mail_raw", "/admin/mail/{id}/raw", factory=outbox_mail)
    add("admin.mail_retry", "/admin/mail/{id}/retry", factory=outbox_mail)

    # -- administration -------------------------------------------------------------
    add("admin.home", "/admin")
    add("admin.users", "/admin/users")
    add("admin.user_add", "/admin/users/add")
    add(
        "admin.user_edit",
        "/admin/users/{id}",
        factory=_admin_factory("portal.accounts.models.User"),
    )
    add("admin.departments", "/admin/departments")
    add("admin.department_add", "/admin/departments/add")
    add(
        "admin.department_edit",
        "/admin/departments/{id}",
        factory=_admin_factory("portal.departments.models.Department"),
    )
    add("admin.leaders", "/admin/leaders")
    add("admin.leader_add", "/admin/leaders/add")
    add(
        "admin.leader_edit",
        "/admin/leaders/{id}",
        factory=_admin_factory("portal.departments.models.Leader"),
    )
    add("admin.links", "/admin/links")
    add("admin.link_add", "/admin/links/add")
    add(
        "admin.link_edit",
        "/admin/links/{id}",
        factory=_admin_factory("portal.links.models.FriendLink"),
    )
    add(
        "admin.link_delete",
        "/admin/links/{id}/delete",
        factory=_admin_factory("portal.links.models.FriendLink"),
    )

    add("content.section", "/{section:" + "|".join(SECTION_SLUGS) + "}")
