"""Open311 GeoReport v2: every response checked against the spec's JSON schemas, in JSON
and (converted element by element) in XML; errors in the spec's format and codes."""

from __future__ import annotations

import json
import os
from typing import Any
from xml.etree import ElementTree as ET

import fastjsonschema
import pytest
from sqlalchemy import func, select

from portal.complaints.models import Case, CaseState
from tests.factories_complaints import World, make_service

HERE = os.path.join(os.path.dirname(__file__), "open311_schema")
KEY = "test-key-123"
FORMATS = {"uid": r"^.+$", "double": r"^.*$", "uint": r"^\d+$"}


def _schema(name: str) -> dict[str, Any]:
    with open(os.path.join(HERE, name), encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    items = data.get("items", {})
    if isinstance(items, dict) and "$ref" in items:
        data["items"] = _schema(items["$ref"])
    return data


VALIDATORS = {
    name: fastjsonschema.compile(_schema(f"{name}.json"), formats=FORMATS)
    for name in (
        "requests",
        "services",
        "service-definition",
        "errors",
        "discovery",
        "post-response",
    )
}

BOOLEANS = {"metadata", "variable", "required"}
NUMBERS = {"lat": float, "long": float, "order": int}
LISTS = {"endpoints", "formats", "attributes", "values"}


def _from_xml(element: ET.Element, parent: str = "") -> Any:
    """An XML element as the JSON the same endpoint gives."""
    if element.tag in LISTS:
        return [_from_xml(child, element.tag) for child in element]
    if len(element) == 0:
        text = element.text
        if text is None:
            return None
        if element.tag in BOOLEANS:
            assert text in ("true", "false")
            return text == "true"
        if element.tag in NUMBERS or (element.tag, parent) == ("code", "error"):
            return NUMBERS.get(element.tag, int)(text)
        return text
    return {child.tag: _from_xml(child, element.tag) for child in element}


def get_both(testapp, path: str, schema: str, expect: int = 200, **params: Any) -> Any:
    """GET ``path`` as JSON and as XML; both must validate and say the same."""
    as_json = testapp.get(f"{path}.json", params=params, status=expect)
    assert as_json.content_type == "application/json"
    assert as_json.charset == "utf-8"
    data = as_json.json
    VALIDATORS[schema](data)
    as_xml = testapp.get(f"{path}.xml", params=params, status=expect)
    assert as_xml.content_type == "text/xml"
    root = ET.fromstring(as_xml.body)  # noqa: S314  (our own response)
    converted = [_from_xml(child) for child in root] if isinstance(data, list) else _from_xml(root)
    VALIDATORS[schema](converted)
    assert converted == data
    return data


@pytest.fixture
def world(dbsession):
    return World(dbsession)


@pytest.fixture(autouse=True)
def api_key(app):
    settings = app.registry.settings
    saved = settings["qzt.open311.api_keys"]
    settings["qzt.open311.api_keys"] = [f"fixmystreet:{KEY}", "other:another-key"]
    yield
    settings["qzt.open311.api_keys"] = saved


def post(testapp, fmt: str = "json", status: int = 200, **fields: Any) -> Any:
    return testapp.post(f"/open311/v2/requests.{fmt}", fields, status=status)


def file(testapp, world, **extra: Any) -> Any:
    fields = {
        "api_key": KEY, "service_code": world.category.code, "lat": "22.58", "long": "113.08",
        "description": "园区路灯不亮\n晚上货车出入不安全。", "email": "citizen@example.com",
        "first_name": "明", "last_name": "陈", **extra,
    }  # fmt: skip
    return post(testapp, **fields)


def test_discovery_and_services(testapp, world):
    found = get_both(testapp, "/open311/v2/discovery", "discovery")
    assert found["endpoints"][0]["url"].endswith("/open311/v2/")
    services = get_both(testapp, "/open311/v2/services", "services")
    assert world.category.code in [s["service_code"] for s in services]
    definition = get_both(
        testapp, f"/open311/v2/services/{world.category.code}", "service-definition"
    )
    (attribute,) = definition["attributes"]
    assert attribute["code"] == "kind"
    assert {v["key"] for v in attribute["values"]} == {
        "consult",
        "help",
        "complaint",
        "report",
        "suggestion",
    }
    errors = get_both(testapp, "/open311/v2/services/nope", "errors", expect=404)
    assert errors[0]["code"] == 404


def test_a_request_is_filed_routed_and_followed(testapp, world, dbsession, clock):
    created = file(testapp, world, **{"attribute[kind]": "complaint"}).json
    VALIDATORS["post-response"](created)
    number = created[0]["service_request_id"]
    case = dbsession.scalar(select(Case).order_by(Case.id.desc()))
    assert case.number == number
    assert case.source == "open311"
    assert case.kind == "complaint"
    assert case.department_id == world.a.id
    assert (case.lat, case.long) == (22.58, 113.08)
    assert case.contact_name == "陈 明"
    assert case.title == "园区路灯不亮"
    assert case.steps[0].data["client"] == "fixmystreet"
    (one,) = get_both(testapp, f"/open311/v2/requests/{number}", "requests")
    assert one["status"] == "open"
    assert one["agency_responsible"] == world.a.name
    assert one["requested_datetime"] == "2026-03-02T09:30:00+08:00"
    assert one["expected_datetime"].endswith("+08:00")
    listed = get_both(testapp, "/open311/v2/requests", "requests")
    assert [r["service_request_id"] for r in listed] == [number]
    by_id = get_both(
        testapp, "/open311/v2/requests", "requests", service_request_id=f"{number},123"
    )
    assert [r["service_request_id"] for r in by_id] == [number]
    assert get_both(testapp, "/open311/v2/requests", "requests", status="closed") == []
    assert (
        len(
            get_both(
                testapp,
                "/open311/v2/requests",
                "requests",
                status="open",
                service_code=world.category.code,
            )
        )
        == 1
    )
    window = {"start_date": "2026-03-01T00:00:00+08:00", "end_date": "2026-03-03"}
    assert len(get_both(testapp, "/open311/v2/requests", "requests", **window)) == 1
    earlier = {"start_date": "2026-01-01", "end_date": "2026-02-01"}
    assert get_both(testapp, "/open311/v2/requests", "requests", **earlier) == []
    # Empty parameters count as absent.
    assert (
        len(get_both(testapp, "/open311/v2/requests", "requests", status="", service_code="")) == 1
    )
    # Closed, it says so, with the reply in its notes.
    case.state = CaseState.CLOSED.value
    case.closed_at = clock.now()
    dbsession.flush()
    (one,) = get_both(testapp, f"/open311/v2/requests/{number}", "requests")
    assert one["status"] == "closed"
    assert one["updated_datetime"] == one["requested_datetime"]


def test_cases_filed_on_the_portal_stay_private(testapp, world, dbsession, clock, tmp_path):
    service = make_service(clock, str(tmp_path))
    case = service.open_case(
        dbsession, kind="help", title="商业秘密", description="内部资料", enterprise_id=None,
        opened_by_user_id=world.company.id, department_id=None,
    )  # fmt: skip
    get_both(testapp, f"/open311/v2/requests/{case.number}", "errors", expect=404)
    assert get_both(testapp, "/open311/v2/requests", "requests") == []


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"api_key": ""}, 403, "api_key is required"),
        ({"api_key": "wrong"}, 403, "not valid"),
        ({"service_code": "no-such"}, 404, "service_code no-such not found"),
        ({"service_code": ""}, 400, "service_code is required"),
        ({"lat": "", "long": ""}, 400, "a location is required"),
        ({"lat": "95", "long": "113"}, 400, "lat must be between"),
        ({"lat": "abc"}, 400, "lat must be a number"),
        ({"long": ""}, 400, "lat and long must be given together"),
        ({"description": ""}, 400, "description is required"),
        ({"description": "x" * 5001}, 400, "description"),
        ({"email": "not-mail"}, 400, "email"),
        ({"attribute[kind]": "praise"}, 400, "attribute[kind]"),
        ({"jurisdiction_id": "elsewhere.gov"}, 404, "jurisdiction_id"),
    ],
)
def test_bad_posts_get_the_specs_errors_and_change_nothing(
    testapp, world, dbsession, fields, status, words
):
    before = dbsession.scalar(select(func.count()).select_from(Case))
    base = {"api_key": KEY, "service_code": world.category.code, "lat": "22.58"}
    base.update({"long": "113.08", "description": "路灯不亮", **fields})
    for fmt in ("json", "xml"):
        response = post(testapp, fmt, status, **base)
        if fmt == "xml":
            root = ET.fromstring(response.body)  # noqa: S314  (our own response)
            assert root.tag == "errors"
            data = [_from_xml(e) for e in root]
        else:
            data = response.json
        VALIDATORS["errors"](data)
        assert data[0]["code"] == status
        assert words in data[0]["description"]
    assert dbsession.scalar(select(func.count()).select_from(Case)) == before


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"start_date": "yesterday"}, 400, "start_date must be an ISO 8601"),
        ({"end_date": "2026-13-45"}, 400, "end_date is not a valid"),
        (
            {"start_date": "2026-03-02", "end_date": "2026-03-01"},
            400,
            "end_date must not be before",
        ),
        ({"start_date": "2025-01-01", "end_date": "2026-03-01"}, 400, "90 days"),
        ({"status": "pending"}, 400, "status must be open or closed"),
        ({"service_code": "nope"}, 404, "service_code nope not found"),
    ],
)
def test_bad_queries_get_the_specs_errors(testapp, world, params, status, words):
    data = get_both(testapp, "/open311/v2/requests", "errors", expect=status, **params)
    assert data[0]["code"] == status
    assert words in data[0]["description"]


def test_unknown_requests_and_formats(testapp, world):
    get_both(testapp, "/open311/v2/requests/20260302999999", "errors", expect=404)
    get_both(testapp, "/open311/v2/requests/abc", "errors", expect=404)
    response = testapp.get("/open311/v2/services.yaml", status=404)
    VALIDATORS["errors"](response.json)
