"""FormView: saved whole or not at all, errors next to their field."""

from __future__ import annotations

from typing import Any

import colander
import pytest
from pyramid import testing
from sqlalchemy import func, select
from webob.multidict import MultiDict

import forms
from forms import CSRFSchema, FormView
from portal.departments.models import Department
from portal.errors import InputError
from tests import factories


class NameSchema(CSRFSchema):
    name = colander.SchemaNode(colander.String())


class AddTwoDepartments(FormView):
    """Saves a first department, then a second that may clash with an existing one."""

    schema_class = NameSchema
    clash_code: str = ""
    refuse: bool = False

    def save(self, appstruct: dict[str, Any]) -> str:
        db = self.request.dbsession
        db.add(
            Department(
                code="first-of-two",
                name=appstruct["name"],
                short_name="一",
                category="综合管理",
                responsibilities="…",
            )
        )
        db.flush()
        if self.refuse:
            raise InputError("name", "Refused.")
        db.add(
            Department(
                code=self.clash_code,
                name="第二个",
                short_name="二",
                category="综合管理",
                responsibilities="…",
            )
        )
        return "/done"


@pytest.fixture
def request_(dbsession):
    config = testing.setUp()
    config.include("pyramid_chameleon")
    forms.includeme(config)
    request = testing.DummyRequest(post=MultiDict({"name": "新部门", "save": "save"}))
    request.method = "POST"
    request.dbsession = dbsession
    yield request
    testing.tearDown()


def _departments(dbsession) -> int:
    return dbsession.scalar(select(func.count()).select_from(Department))


def test_a_service_error_rolls_back_everything_the_service_did(request_, dbsession):
    before = _departments(dbsession)
    view = AddTwoDepartments(None, request_)
    view.refuse = True
    result = view()
    assert "Refused." in str(result["form"])
    assert _departments(dbsession) == before


def test_a_unique_clash_found_by_the_database_is_a_form_error_not_a_500(request_, dbsession):
    taken = factories.DepartmentFactory()
    before = _departments(dbsession)
    view = AddTwoDepartments(None, request_)
    view.clash_code = taken.code
    result = view()
    assert "conflicting entry" in str(result["form"])
    assert _departments(dbsession) == before  # the first insert went too


def test_success_redirects(request_, dbsession):
    view = AddTwoDepartments(None, request_)
    view.clash_code = "fresh-code"
    response = view()
    assert response.status_int == 303
    assert response.location == "/done"
