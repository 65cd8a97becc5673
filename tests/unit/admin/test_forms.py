"""The administration schemas: messages are ours (in the catalog), choices are bound."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import colander
import pytest
from pyramid import testing

from forms.admin import (
    DepartmentSchema,
    LeaderSchema,
    LinkSchema,
    UserAddSchema,
    UserEditSchema,
    code_error,
    url_error,
)


@pytest.mark.parametrize("url", ["https://www.gov.cn/", "http://example.org/a?b=c", "HTTPS://X.CN"])
def test_http_and_https_addresses_are_accepted(url):
    assert url_error(url) is None


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("javascript:alert(1)", "http://"),
        ("ftp://files.example.org/", "http://"),
        ("www.gov.cn", "http://"),
        ("https://", "site name"),
        ("https://exa mple.org/", "spaces"),
        ("http://[::1", "not a valid"),
    ],
)
def test_other_addresses_are_refused_with_a_reason(url, fragment):
    assert fragment in (url_error(url) or "")


@pytest.mark.parametrize("code", ["fgj", "market-reg", "a1", "x" * 40])
def test_good_codes(code):
    assert code_error(code) is None


@pytest.mark.parametrize("code", ["f", "FGJ", "fg j", "发改", "x" * 41, "a_b"])
def test_bad_codes(code):
    assert code_error(code) is not None


@pytest.fixture
def request_() -> Any:
    request = testing.DummyRequest()
    with testing.testConfig(request=request):
        yield request


def errors(schema: colander.Schema, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(colander.Invalid) as caught:
        schema.deserialize(data)
    return {k.split(".")[-1]: str(v) for k, v in caught.value.asdict().items()}


def test_department_schema_messages_are_specific(request_):
    schema = DepartmentSchema().bind(request=request_, context=None)
    found = errors(
        schema,
        {
            "code": " ",
            "name": "x" * 101,
            "short_name": "",
            "category": "经济",
            "responsibilities": "  ",
            "phone": "123",
            "sort_order": "12a",
        },
    )
    assert found["code"] == "Enter the code used in the department's web address."
    assert found["name"] == "At most 100 characters."
    assert found["short_name"].startswith("Enter a short name")
    assert found["responsibilities"].startswith("Describe what the department handles")
    assert "area code" in found["phone"]
    assert found["sort_order"] == "Enter a whole number, e.g. 10."


def test_department_schema_trims_and_fills_defaults(request_):
    schema = DepartmentSchema().bind(request=request_, context=None)
    data = schema.deserialize(
        {
            "code": " fgj ",
            "name": "市发改局",
            "short_name": "发改局",
            "category": "经济发展",
            "responsibilities": "审批",
            "sort_order": "",
            "is_active": "true",
        }
    )
    assert data["code"] == "fgj"
    assert (data["sort_order"], data["phone"], data["address"]) == (0, "", "")


def test_sort_order_has_bounds(request_):
    schema = LinkSchema().bind(request=request_, context=None)
    found = errors(schema, {"title": "a", "url": "https://a.cn", "sort_order": "10000"})
    assert found == {"sort_order": "Enter a number no larger than 9999."}


def test_user_add_schema_needs_a_government_role_and_matching_passwords(request_):
    schema = UserAddSchema().bind(
        request=request_, context=None, departments=[(7, "市商务局")], min_password_length=12
    )
    base = {
        "login": "li",
        "display_name": "李",
        "password": "Long-enough-1",
        "password_confirm": "Long-enough-2",
        "department_id": "8",
    }
    found = errors(schema, {**base, "roles": ["enterprise"]})
    assert found["roles"] == "Only government roles can be given here."
    assert found["department_id"] == "Choose a department from the list."
    assert found["login"] == "At least 3 characters."

    found = errors(schema, {**base, "login": "li.si", "department_id": "7", "roles": ["staff"]})
    assert found == {"password_confirm": "The two passwords differ."}


def test_edit_schema_for_an_enterprise_user_has_no_government_fields(request_):
    bind: dict[str, Any] = {"request": request_, "departments": []}
    staff = UserEditSchema().bind(context=SimpleNamespace(enterprise_id=None), **bind)
    member = UserEditSchema().bind(context=SimpleNamespace(enterprise_id=3), **bind)
    assert {"roles", "department_id", "title"} <= {n.name for n in staff.children}
    assert not {"roles", "department_id", "title"} & {n.name for n in member.children}


def test_leader_schema_accepts_only_offered_departments_and_accounts(request_):
    schema = LeaderSchema().bind(
        request=request_, context=None, departments=[(1, "甲局")], leader_accounts=[(5, "赵")]
    )
    found = errors(
        schema, {"name": "王", "title": "副市长", "departments": ["1", "2"], "user_id": "6"}
    )
    assert found == {
        "departments": "Choose departments from the list only.",
        "user_id": "Choose an account with the city-leader role.",
    }
    data = schema.deserialize({"name": "王", "title": "副市长", "user_id": "5"})
    assert data["departments"] == frozenset()
    assert data["user_id"] == 5
    assert data["email"] is None
