"""Open311 GeoReport v2: existing civic tools file and follow cases.

Endpoints (``{format}`` is ``xml`` or ``json``, UTF-8 both):

* ``GET discovery`` — where the endpoint is and what it speaks;
* ``GET services`` — one service per active category of the routing catalogue;
  ``GET services/{code}`` — its definition: one optional attribute, ``kind``
  (咨询/求助/投诉/举报/建议, default 求助);
* ``POST requests`` (form-encoded, ``api_key`` required) — a new case, routed
  like one filed through the portal's form;
* ``GET requests`` (``service_request_id``, ``service_code``, ``start_date``,
  ``end_date``, ``status``) and ``GET requests/{id}``.

Errors are the spec's: an array of ``{code, description}`` (``<errors><error>``
in XML) with the HTTP status as the code — 400 bad or missing parameters, 403
no or bad key, 404 unknown service or request. An empty parameter counts as
absent. Times are ISO 8601 with the +08:00 offset.

Cases reach the API only if they were filed through it: enterprises' cases filed
on the portal may hold business secrets, and GET needs no key.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.clock import LOCAL_TZ, IClock, local
from portal.complaints.interfaces import CaseError, ICaseService
from portal.complaints.models import Case, CaseCategory, CaseState, parse_number
from portal.complaints.notify import KIND_LABELS, make_translator
from portal.complaints.workflow import STATE_LABELS

SPEC = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
MAX_RESULTS = 1000
MAX_SPAN = timedelta(days=90)
DEFAULT_KIND = "help"
CLOSED = {CaseState.CLOSED, CaseState.VISITED, CaseState.RATED, CaseState.MERGED}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# -- rendering -----------------------------------------------------------------------------
def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, bool):
        child.text = "true" if value else "false"
    elif isinstance(value, list):
        singular = {"formats": "format", "endpoints": "endpoint", "attributes": "attribute",
                    "values": "value"}.get(name, "item")  # fmt: skip
        for item in value:
            _xml_item(child, singular, item)
    elif value is not None:
        child.text = str(value)


def _xml_item(parent: ET.Element, name: str, item: Any) -> None:
    if isinstance(item, dict):
        element = ET.SubElement(parent, name)
        for key, value in item.items():
            _xml_value(element, key, value)
    else:
        _xml_value(parent, name, item)


def render(fmt: str, root: str, item: str, data: Any, status: int = 200) -> Response:
    """``data`` as JSON, or as XML: a list becomes ``<root><item>…</item></root>``,
    a dict ``<root>…</root>``."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    else:
        element = ET.Element(root)
        if isinstance(data, list):
            for entry in data:
                _xml_item(element, item, entry)
        else:
            for key, value in data.items():
                _xml_value(element, key, value)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, "utf-8")
    response = Response(body=body, status=status)
    response.content_type = FORMATS[fmt]
    response.charset = "utf-8"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def error(fmt: str, status: int, description: str) -> Response:
    return render(fmt, "errors", "error", [{"code": status, "description": description}], status)


def _format(request: Request) -> str:
    fmt = request.matchdict.get("format", "")
    if fmt not in FORMATS:
        raise Open311Error(404, "format must be xml or json")
    return fmt


def api(view: Any) -> Any:
    """Errors raised by an endpoint become the spec's error document."""

    def wrapped(request: Request) -> Response:
        fmt = request.matchdict.get("format", "")
        try:
            fmt = _format(request)
            jurisdiction = _param(request, "jurisdiction_id")
            if (
                jurisdiction
                and jurisdiction != request.registry.settings["qzt.open311.jurisdiction"]
            ):
                raise Open311Error(404, "jurisdiction_id not found")
            response: Response = view(request, fmt)
            return response
        except Open311Error as exc:
            return error(fmt if fmt in FORMATS else "json", exc.status, exc.description)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _param(request: Request, name: str) -> str:
    """A parameter's value; empty counts as absent (the spec says so)."""
    value = request.params.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else local(dt).isoformat(timespec="seconds")


def parse_datetime(raw: str, name: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is Beijing time."""
    if not _ISO.match(raw):
        raise Open311Error(
            400, f"{name} must be an ISO 8601 date-time, e.g. 2026-03-02T09:30:00+08:00"
        )
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a valid date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value


# -- discovery and services ----------------------------------------------------------------
def _endpoint_url(request: Request) -> str:
    return str(request.registry.settings["qzt.public_url"]).rstrip("/") + "/open311/v2/"


@view_config(
    route_name="open311.discovery", request_method="GET", permission=NO_PERMISSION_REQUIRED
)
@api
def discovery(request: Request, fmt: str) -> Response:
    settings = request.registry.settings
    data = {
        "changeset": "2026-03-01T00:00:00+08:00",
        "contact": f"{settings['qzt.site_name']} 12345",
        "key_service": "API keys are issued by the portal administrator.",
        "endpoints": [
            {
                "specification": SPEC,
                "url": _endpoint_url(request),
                "changeset": "2026-03-01T00:00:00+08:00",
                "type": "production",
                "formats": list(FORMATS.values()),
            }
        ],
    }
    return render(fmt, "discovery", "", data)


def _categories(request: Request) -> list[CaseCategory]:
    return list(
        request.dbsession.scalars(
            select(CaseCategory)
            .where(CaseCategory.is_active.is_(True))
            .order_by(CaseCategory.group, CaseCategory.sort_order)
        )
    )


def service_json(category: CaseCategory) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": True,
        "type": "realtime",
        "keywords": category.group,
        "group": category.group,
    }


@view_config(route_name="open311.services", request_method="GET", permission=NO_PERMISSION_REQUIRED)
@api
def services(request: Request, fmt: str) -> Response:
    return render(fmt, "services", "service", [service_json(c) for c in _categories(request)])


def _category(request: Request, code: str) -> CaseCategory:
    found = request.find_service(ICaseService).category_by_code(request.dbsession, code)
    if found is None:
        raise Open311Error(404, f"service_code {code} not found")
    return found


@view_config(route_name="open311.service", request_method="GET", permission=NO_PERMISSION_REQUIRED)
@api
def service_definition(request: Request, fmt: str) -> Response:
    category = _category(request, request.matchdict["code"])
    translate = make_translator(request.registry.settings["pyramid.default_locale_name"])
    attribute = {
        "variable": True,
        "code": "kind",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "咨询 consult, 求助 help, 投诉 complaint, 举报 report, "
        "建议 suggestion",
        "order": 1,
        "description": translate("Type"),
        "values": [{"key": k, "name": translate(label)} for k, label in KIND_LABELS.items()],
    }
    return render(
        fmt, "service_definition", "", {"service_code": category.code, "attributes": [attribute]}
    )


# -- requests ---------------------------------------------------------------------------------
def request_json(case: Case, translate: Any) -> dict[str, Any]:
    latest_reply = next(
        (m.body for m in reversed(case.messages) if m.kind == "reply" and m.public), None
    )
    status_note = translate(STATE_LABELS[case.state])
    if latest_reply:
        status_note = f"{status_note}：{latest_reply[:500]}"
    return {
        "service_request_id": case.number,
        "status": "closed" if case.state in CLOSED else "open",
        "status_notes": status_note,
        "service_name": case.category.name if case.category else None,
        "service_code": case.category.code if case.category else "",
        "description": case.description[:4000],
        "agency_responsible": case.department.name if case.department else None,
        "service_notice": None,
        "requested_datetime": iso(case.received_at),
        "updated_datetime": iso(
            case.closed_at if case.state in CLOSED and case.closed_at else case.updated_at
        ),
        "expected_datetime": iso(case.close_due_at),
        "address": case.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.long,
        "media_url": None,
    }


def _client(request: Request) -> str:
    """The name of the client whose ``api_key`` this is; Open311Error(403) otherwise."""
    key = _param(request, "api_key")
    if not key:
        raise Open311Error(403, "api_key is required")
    for entry in request.registry.settings["qzt.open311.api_keys"]:
        name, _, secret = entry.partition(":")
        if secret and hmac.compare_digest(secret.encode(), key.encode()):
            return name
    raise Open311Error(403, "api_key is not valid")


def _float(request: Request, name: str, low: float, high: float) -> float | None:
    raw = _param(request, name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must be between {low:g} and {high:g}")
    return value


@view_config(
    route_name="open311.requests",
    request_method="POST",
    permission=NO_PERMISSION_REQUIRED,
    require_csrf=False,
)
@api
def create_request(request: Request, fmt: str) -> Response:
    client = _client(request)
    code = _param(request, "service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    category = _category(request, code)
    lat, long = _float(request, "lat", -90, 90), _float(request, "long", -180, 180)
    address = _param(request, "address_string") or _param(request, "address_id")
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and not address:
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    description = _param(request, "description")
    if not description:
        raise Open311Error(400, "description is required")
    kind = _param(request, "attribute[kind]") or DEFAULT_KIND
    if kind not in KIND_LABELS:
        raise Open311Error(400, f"attribute[kind] must be one of {', '.join(KIND_LABELS)}")
    name = " ".join(p for p in (_param(request, "last_name"), _param(request, "first_name")) if p)
    service = request.find_service(ICaseService)
    savepoint = request.dbsession.begin_nested()
    try:
        case = service.open_case(
            request.dbsession,
            kind=kind,
            title=_title(description),
            description=description,
            enterprise_id=None,
            opened_by_user_id=None,
            department_id=None,
            source="open311",
            category=category.code,
            contact_email=_param(request, "email") or None,
            address=address,
            lat=lat,
            long=long,
            contact_name=name,
            contact_phone=_param(request, "phone"),
        )
        case.steps[0].data = {**case.steps[0].data, "client": client}
        request.dbsession.flush()
    except CaseError as exc:
        savepoint.rollback()
        raise Open311Error(400, _api_message(exc)) from None
    savepoint.commit()
    notice = f"诉求已受理，编号 {case.number}；办结时限 {iso(case.close_due_at)}"
    data = [{"service_request_id": case.number, "service_notice": notice, "account_id": None}]
    return render(fmt, "service_requests", "request", data)


def _title(description: str) -> str:
    first = description.splitlines()[0] if description else ""
    return first[:40] + ("…" if len(first) > 40 else "")


_FIELD_NAMES = {
    "description": "description",
    "title": "description",
    "contact_email": "email",
    "category": "service_code",
    "kind": "attribute[kind]",
}


def _api_message(exc: CaseError) -> str:
    field = _FIELD_NAMES.get(exc.field, exc.field)
    text = exc.message
    for key, value in exc.mapping.items():
        text = text.replace("${" + key + "}", str(value))
    return f"{field}: {text}"


def _open311_cases() -> Any:
    return (
        select(Case)
        .where(Case.source == "open311")
        .options(
            selectinload(Case.category), selectinload(Case.department), selectinload(Case.messages)
        )
    )


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


@view_config(route_name="open311.requests", request_method="GET", permission=NO_PERMISSION_REQUIRED)
@api
def list_requests(request: Request, fmt: str) -> Response:
    query = _open311_cases()
    ids = _split(_param(request, "service_request_id"))
    if ids:
        # The spec: service_request_id overrides every other filter.
        numbers = [n for n in (parse_number(i) for i in ids) if n is not None]
        query = query.where(Case.id.in_(numbers))
        found: Sequence[Case] = [c for c in request.dbsession.scalars(query) if c.number in ids]
    else:
        found = _filtered(request, query)
    translate = make_translator(request.registry.settings["pyramid.default_locale_name"])
    return render(fmt, "service_requests", "request", [request_json(c, translate) for c in found])


def _filtered(request: Request, query: Any) -> Sequence[Case]:
    codes = _split(_param(request, "service_code"))
    if codes:
        known = set(
            request.dbsession.scalars(select(CaseCategory.code).where(CaseCategory.code.in_(codes)))
        )
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise Open311Error(404, f"service_code {unknown[0]} not found")
        query = query.where(Case.category.has(CaseCategory.code.in_(codes)))
    statuses = _split(_param(request, "status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, "status must be open or closed")
    closed = [s.value for s in CLOSED]
    if statuses == ["open"]:
        query = query.where(Case.state.not_in(closed))
    elif statuses == ["closed"]:
        query = query.where(Case.state.in_(closed))
    raw_start, raw_end = _param(request, "start_date"), _param(request, "end_date")
    start = parse_datetime(raw_start, "start_date") if raw_start else None
    end = parse_datetime(raw_end, "end_date") if raw_end else None
    if start and end and end < start:
        raise Open311Error(400, "end_date must not be before start_date")
    if start and end and end - start > MAX_SPAN:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    if start is None and end is None:
        # Without dates the spec asks for the most recent 90 days.
        end = request.find_service(IClock).now()
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    until = end if end is not None else start + MAX_SPAN
    query = query.where(Case.received_at >= start, Case.received_at <= until)
    query = query.order_by(Case.received_at.desc(), Case.id.desc()).limit(MAX_RESULTS)
    return list(request.dbsession.scalars(query))


@view_config(route_name="open311.request", request_method="GET", permission=NO_PERMISSION_REQUIRED)
@api
def get_request(request: Request, fmt: str) -> Response:
    number = request.matchdict["id"]
    ident = parse_number(number)
    found = request.dbsession.scalar(_open311_cases().where(Case.id == ident)) if ident else None
    if found is None or found.number != number:
        raise Open311Error(404, f"service_request_id {number} not found")
    translate = make_translator(request.registry.settings["pyramid.default_locale_name"])
    return render(fmt, "service_requests", "request", [request_json(found, translate)])
