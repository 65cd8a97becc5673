"""Content schemas: inheritance, database-bound choices, and specific Chinese errors."""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Any

import colander
import deform
import pytest
from pyramid import testing
from pyramid.i18n import make_localizer

import portal
from forms.content import (
    SCHEMAS,
    ContentSchema,
    InterpretationSchema,
    NewsSchema,
    PolicySchema,
    RegulationSchema,
    schema_for,
)
from portal.roles import Role
from tests import factories

LOCALE_DIR = os.path.join(os.path.dirname(portal.__file__), "locale")
CJK = re.compile(r"[\u4e00-\u9fff]")


def bound(schema_class: type[colander.Schema], dbsession: Any, user: Any = None, **kw: Any) -> Any:
    request = testing.DummyRequest(dbsession=dbsession, user=user)
    return schema_class().bind(request=request, **kw)


def errors(schema: colander.SchemaNode, cstruct: dict[str, Any]) -> dict[str, Any]:
    """Field -> the translation string of its error (not yet rendered)."""
    with pytest.raises(colander.Invalid) as excinfo:
        schema.deserialize(cstruct)
    found: dict[str, Any] = {}

    def walk(exc: colander.Invalid) -> None:
        if exc.msg is not None and exc.node.name:
            found[exc.node.name] = exc.msg
        for child in exc.children:
            walk(child)

    walk(excinfo.value)
    return found


def zh(message: Any) -> str:
    return str(make_localizer("zh_CN", [LOCALE_DIR]).translate(message))


def regulation_input(**overrides: Any) -> dict[str, Any]:
    return {"title": "江门市某某条例", "summary": "", "body": "<p>正文</p>",
            "department_id": "", "industries": [], "index_no": "", "doc_number": "",
            "issuer": "", "written_date": "", "publish_date": "", "topic": "",
            "effective_date": "", "validity": "", "replaced_by_id": "", **overrides}  # fmt: skip


def test_every_section_schema_inherits_the_content_schema():
    assert set(SCHEMAS.values()) == {
        NewsSchema,
        PolicySchema,
        RegulationSchema,
        InterpretationSchema,
    }
    for schema in SCHEMAS.values():
        assert issubclass(schema, ContentSchema)
    assert issubclass(RegulationSchema, PolicySchema.__mro__[1])  # the shared document fields
    assert schema_for("regulation") is RegulationSchema
    assert schema_for("industry") is NewsSchema
    with pytest.raises(ValueError, match="recipes"):
        schema_for("recipes")


def test_field_sets_per_section():
    names = {s: [n.name for n in s().children] for s in SCHEMAS.values()}
    base = ["csrf_token", "title", "summary", "body", "department_id", "industries"]
    assert names[NewsSchema] == base
    assert names[PolicySchema] == [*base, "index_no", "issuer", "doc_number", "written_date",
                                   "publish_date"]  # fmt: skip
    assert names[RegulationSchema] == [*base, "index_no", "topic", "issuer", "doc_number",
                                       "written_date", "publish_date", "effective_date",
                                       "validity", "replaced_by_id"]  # fmt: skip
    assert names[InterpretationSchema] == [*base, "interprets_id"]


def test_a_complete_regulation_deserialises_to_typed_values(dbsession):
    dept = factories.DepartmentFactory()
    old = factories.ContentItemFactory(section="regulation")
    schema = bound(RegulationSchema, dbsession, factories.UserFactory(roles=[Role.EDITOR]))
    data = schema.deserialize(
        regulation_input(
            department_id=str(dept.id), industries=["C", "I"], doc_number="江府〔2026〕1号",
            written_date="2026-01-05", publish_date="2026-01-10", effective_date="2026-02-01",
            validity="in_force", replaced_by_id=str(old.id),
        )
    )  # fmt: skip
    assert data["department_id"] == dept.id
    assert data["industries"] == {"C", "I"}
    assert data["written_date"] == date(2026, 1, 5)
    assert data["effective_date"] == date(2026, 2, 1)
    assert data["validity"] == "in_force"
    assert data["replaced_by_id"] == old.id
    assert data["index_no"] is None
    assert data["summary"] == ""


@pytest.mark.parametrize(
    ("overrides", "field", "msgid"),
    [
        ({"title": ""}, "title", "Enter a title."),
        ({"title": "   "}, "title", "Enter a title."),
        ({"title": "长" * 301}, "title", "At most ${max} characters."),
        ({"doc_number": "号" * 101}, "doc_number", "At most ${max} characters."),
        (
            {"written_date": "2026-13-40"},
            "written_date",
            "Enter a date as YYYY-MM-DD, e.g. 2026-03-02.",
        ),
        ({"validity": "eternal"}, "validity", "Choose a validity from the list."),
        ({"industries": ["C", "ZZ"]}, "industries", "Choose industries from the list."),
        ({"department_id": "999999"}, "department_id", "Choose a department from the list."),
        ({"department_id": "abc"}, "department_id", "Enter a whole number."),
        ({"replaced_by_id": "x1"}, "replaced_by_id", "Enter a whole number."),
        (
            {"replaced_by_id": "999999"},
            "replaced_by_id",
            "No published regulation has the number ${id}.",
        ),
    ],
)
def test_each_mistake_gets_its_own_message_in_chinese(dbsession, overrides, field, msgid):
    schema = bound(RegulationSchema, dbsession, factories.UserFactory(roles=[Role.EDITOR]))
    found = errors(schema, regulation_input(**overrides))
    assert field in found
    assert str(found[field]) == msgid
    assert CJK.search(zh(found[field])), zh(found[field])


@pytest.mark.parametrize(
    ("field", "later", "msgid"),
    [
        ("publish_date", "2026-01-01", "A document cannot be published before it was written."),
        ("effective_date", "2026-01-31", "A document cannot take effect before it was written."),
    ],
)
def test_dates_must_follow_the_date_written(dbsession, field, later, msgid):
    schema = bound(RegulationSchema, dbsession)
    found = errors(schema, regulation_input(written_date="2026-02-01", **{field: later}))
    assert {k: str(v) for k, v in found.items()} == {field: msgid}
    assert "发布日期" in zh(found[field]) or "施行日期" in zh(found[field])


@pytest.mark.parametrize(
    ("section", "state"),
    [("policy", "published"), ("regulation", "draft"), ("regulation", "archived")],
)
def test_only_a_published_regulation_can_replace_a_document(dbsession, section, state):
    other = factories.ContentItemFactory(section=section, state=state)
    found = errors(
        bound(RegulationSchema, dbsession), regulation_input(replaced_by_id=str(other.id))
    )
    assert found["replaced_by_id"].mapping == {"id": other.id}


def test_department_choices_come_from_the_database_and_the_user(dbsession):
    active = factories.DepartmentFactory(name="市发展和改革局")
    factories.DepartmentFactory(name="已撤销的局", is_active=False)
    portal_editor = factories.UserFactory(roles=[Role.EDITOR])
    schema = bound(NewsSchema, dbsession, portal_editor)
    values = schema["department_id"].widget.values
    assert values[0] == ("", "—")
    assert (str(active.id), "市发展和改革局") in values
    assert all(label != "已撤销的局" for _v, label in values)
    assert schema.deserialize({"title": "t", "department_id": ""})["department_id"] is None


def test_a_department_editor_files_only_under_the_own_department(dbsession):
    mine, other = factories.DepartmentFactory(), factories.DepartmentFactory()
    user = factories.UserFactory(roles=[Role.EDITOR], department=mine)
    schema = bound(NewsSchema, dbsession, user)
    assert schema["department_id"].widget.values == [(str(mine.id), mine.name)]
    assert (
        schema.deserialize({"title": "t", "department_id": str(mine.id)})["department_id"]
        == mine.id
    )
    found = errors(schema, {"title": "t", "department_id": str(other.id)})
    assert str(found["department_id"]) == "Choose a department from the list."
    found = errors(schema, {"title": "t", "department_id": ""})
    assert str(found["department_id"]) == "Choose a department."


def test_an_administrator_with_a_department_may_still_choose_any(dbsession):
    mine, other = factories.DepartmentFactory(), factories.DepartmentFactory()
    admin = factories.UserFactory(roles=[Role.ADMIN], department=mine)
    schema = bound(NewsSchema, dbsession, admin)
    assert (
        schema.deserialize({"title": "t", "department_id": str(other.id)})["department_id"]
        == other.id
    )


def test_an_interpretation_offers_published_policies_only(dbsession):
    published = factories.ContentItemFactory(section="policy", title="已发布")
    draft = factories.ContentItemFactory(section="policy", title="草稿", state="draft")
    factories.ContentItemFactory(section="regulation", title="法规")
    schema = bound(InterpretationSchema, dbsession)
    assert schema["interprets_id"].widget.values == [("", "—"), (str(published.id), "已发布")]
    ok = schema.deserialize({"title": "t", "interprets_id": str(published.id)})
    assert ok["interprets_id"] == published.id
    assert str(errors(schema, {"title": "t", "interprets_id": str(draft.id)})["interprets_id"]) == (
        "Choose a published policy from the list."
    )
    assert str(errors(schema, {"title": "t", "interprets_id": ""})["interprets_id"]) == (
        "Choose the policy this interpretation explains."
    )


def test_an_interpretation_keeps_its_policy_after_that_policy_was_retracted(dbsession):
    retracted = factories.ContentItemFactory(section="policy", state="draft", title="已撤回的政策")
    interpretation = factories.ContentItemFactory(section="interpretation", interprets=retracted)
    schema = bound(InterpretationSchema, dbsession, context=interpretation)
    assert (str(retracted.id), "已撤回的政策") in schema["interprets_id"].widget.values
    assert schema.deserialize({"title": "t", "interprets_id": str(retracted.id)})[
        "interprets_id"
    ] == (retracted.id)


def test_the_form_renders_without_inline_scripts_and_with_native_dates(dbsession):
    from forms import renderer

    schema = bound(RegulationSchema, dbsession)
    html = deform.Form(schema, renderer=renderer()).render()
    assert "<script" not in html
    assert 'style="' not in html
    assert html.count('type="date"') == 3
    assert 'name="csrf_token"' in html
