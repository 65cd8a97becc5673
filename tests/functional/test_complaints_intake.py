"""The ways to the intake form: a department's page leads to it with the department
chosen, and a visitor is asked to sign in first."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from portal.complaints.models import Case
from tests.factories import DepartmentFactory
from tests.factories_complaints import World, signed_in


def test_a_department_page_leads_to_the_form_with_the_department_chosen(
    dbsession, testapp, app, tm
):
    world = World(dbsession)
    page = testapp.get(f"/departments/{world.a.code}")
    link = page.html.find("a", string="提交诉求")
    assert link is not None
    assert link["href"] == f"/cases/new?department={world.a.id}"

    # A visitor: the login form first, and back to the form afterwards.
    login = testapp.get(link["href"], status=303)
    target = parse_qs(urlsplit(login.location).query)["next"][0]
    assert target == f"/cases/new?department={world.a.id}"

    company = signed_in(app, tm, dbsession, world.company)
    form = company.get(target).forms["case-form"]
    assert form["department"].value == str(world.a.id)
    form["kind"] = "help"
    form["title"] = "想咨询环评手续"
    form["description"] = "新建车间需要办理哪些手续？"
    form.submit(status=303)
    case = dbsession.scalar(select(Case).order_by(Case.id.desc()))
    assert case.department_id == world.a.id
    assert case.source == "web"


def test_an_odd_department_in_the_link_chooses_nothing(dbsession, app, tm):
    world = World(dbsession)
    closed = DepartmentFactory(is_active=False)
    company = signed_in(app, tm, dbsession, world.company)
    for raw in ("abc", "99999999", str(closed.id), "1" * 40, "%00"):
        form = company.get(f"/cases/new?department={raw}").forms["case-form"]
        assert form["department"].value == ""
    # Not UTF-8: the site-wide 400 explains it (portal.web), never a 500.
    page = company.get("/cases/new?department=%FF", status=400)
    assert "无法识别" in page.text
