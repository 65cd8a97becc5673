"""Public content pages: section listings, item pages, attachment downloads."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import FileResponse
from pyramid.view import view_config
from sqlalchemy import select

from portal.content import queries
from portal.content.models import Attachment, ContentItem, Section, Validity
from portal.content.workflow import EVENT_LABELS, STATE_LABELS, available
from portal.departments.models import Department
from portal.i18n import N_
from portal.industries import INDUSTRIES
from portal.permissions import Permission as Perm
from portal.routes import SECTION_SLUGS
from portal.web import stored_file

SECTION_TITLES = {
    Section.POLICY: N_("Policies for enterprises"),
    Section.REGULATION: N_("Regulations and official documents"),
    Section.INDUSTRY: N_("Industry news"),
    Section.SERVICE: N_("Service news"),
    Section.INTERPRETATION: N_("Policy interpretations"),
}

VALIDITY_LABELS = {
    Validity.IN_FORCE: N_("In force"),
    Validity.AMENDED: N_("Amended"),
    Validity.REPEALED: N_("Repealed"),
    Validity.EXPIRED: N_("Expired"),
}


def _int_param(request: Request, name: str) -> int | None:
    raw = request.params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def parse_filter(request: Request) -> queries.ListingFilter:
    industry = request.params.get("industry") or None
    validity = request.params.get("validity") or None
    return queries.ListingFilter(
        department_id=_int_param(request, "department"),
        year=_int_param(request, "year"),
        industry=industry if industry in INDUSTRIES else None,
        validity=validity if validity in set(Validity) else None,
        q=request.params.get("q", "")[:50],
    )


def department_choices(request: Request) -> list[tuple[int, str]]:
    rows = request.dbsession.execute(
        select(Department.id, Department.name)
        .where(Department.is_active.is_(True))
        .order_by(Department.sort_order)
    )
    return [(r.id, r.name) for r in rows]


@view_config(
    route_name="content.section",
    renderer="portal:templates/content/listing.jinja2",
    permission=Perm.VIEW,
)
def section_listing(request: Request) -> dict[str, Any]:
    section = Section(SECTION_SLUGS[request.matchdict["section"]])
    flt = parse_filter(request)
    size = request.registry.settings["qzt.page_size"]
    page = queries.listing(request.dbsession, section, flt, _int_param(request, "page") or 1, size)
    return {
        "section": section,
        "title": SECTION_TITLES[section],
        "page": page,
        "filter": flt,
        "departments": department_choices(request),
        "industries": INDUSTRIES,
        "validity_labels": VALIDITY_LABELS,
    }


@view_config(
    route_name="content.item",
    renderer="portal:templates/content/item.jinja2",
    permission=Perm.CONTENT_VIEW,
)
def item_page(context: ContentItem, request: Request) -> dict[str, Any]:
    can_history = bool(request.has_permission(Perm.CONTENT_HISTORY, context))
    return {
        "item": context,
        "section_title": SECTION_TITLES[Section(context.section)],
        "validity_labels": VALIDITY_LABELS,
        "industries": INDUSTRIES,
        "related": queries.related(request.dbsession, context),
        "interpretations": [i for i in context.interpretations if i.state == "published"],
        "can_edit": bool(request.has_permission(Perm.CONTENT_EDIT, context)),
        "transitions": available(context, lambda p: bool(request.has_permission(p, context))),
        "history": context.history if can_history else [],
        "state_labels": STATE_LABELS,
        "event_labels": EVENT_LABELS,
    }


@view_config(route_name="content.attachment", permission=Perm.ATTACHMENT_DOWNLOAD)
def download(context: Attachment, request: Request) -> FileResponse:
    return stored_file(request, context.id, context.filename, context.media_type)
