"""The statistics dashboard, its CSV export and the routing catalogue screen."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from portal.complaints.models import CaseCategory
from portal.roles import Role
from tests.factories import UserFactory
from tests.factories_complaints import World, make_service, signed_in, staff


@pytest.fixture
def as_user(app, tm, dbsession):
    return lambda user: signed_in(app, tm, dbsession, user)


@pytest.fixture
def world(dbsession, clock, tmp_path):
    w = World(dbsession)
    service = make_service(clock, str(tmp_path))
    for dept in (w.a, w.a, w.b):
        service.open_case(
            dbsession, kind="consult", title="统计", description="统计用。",
            enterprise_id=w.company.enterprise_id, opened_by_user_id=w.company.id,
            department_id=dept.id,
        )  # fmt: skip
    w.supervisor = UserFactory(roles=[Role.SUPERVISOR])
    w.admin = UserFactory(roles=[Role.ADMIN])
    dbsession.flush()
    return w


def test_oversight_sees_every_department_and_exports_csv(world, as_user):
    client = as_user(world.supervisor)
    page = client.get("/cases/stats", params={"from": "2026-03-01", "to": "2026-03-07"})
    assert world.a.name in page.text
    assert world.b.name in page.text
    export = client.get("/cases/stats.csv", params={"from": "2026-03-01", "to": "2026-03-07"})
    assert export.content_type == "text/csv"
    assert export.body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(export.body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["部门", "受理数", "按时签收"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name[world.a.name][1] == "2"
    assert by_name[world.b.name][1] == "1"
    assert by_name["合计"][1] == "3"


def test_a_head_sees_only_the_own_department(world, as_user):
    page = as_user(world.a_head).get(
        "/cases/stats", params={"from": "2026-03-01", "to": "2026-03-07"}
    )
    assert world.a.name in page.text
    assert world.b.name not in page.text
    as_user(world.a_staff).get("/cases/stats", status=403)
    as_user(world.company).get("/cases/stats", status=403)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "2026-03-09", "to": "2026-03-01"}, "统计期间的结束日期"),
        ({"from": "昨天"}, "YYYY-MM-DD"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "最长一年"),
    ],
)
def test_bad_periods_are_explained(world, as_user, params, words):
    client = as_user(world.supervisor)
    page = client.get("/cases/stats", params=params, status=400)
    assert words in page.text or "结束" in page.text
    client.get("/cases/stats.csv", params=params, status=400)


def test_the_admin_maintains_the_catalogue(world, as_user, dbsession):
    client = as_user(world.admin)
    page = client.get("/cases/catalogue")
    form = page.forms[f"category-{world.category.id}"]
    form["lead_department_id"] = str(world.b.id)
    form.set("assist_ids", [str(world.a.id)])
    form.submit(status=303)
    assert world.category.lead_department_id == world.b.id
    assert [d.id for d in world.category.assist_departments] == [world.a.id]
    page = client.get("/cases/catalogue")
    load = next(
        f
        for f in page.forms.values()
        if f.get("action", default=None) and f["action"].value == "load"
    )
    load.submit(status=303)
    assert (
        dbsession.scalar(select(CaseCategory).where(CaseCategory.code == "tax-refund")) is not None
    )
    as_user(world.a_head).get("/cases/catalogue", status=403)


def test_staff_search_their_own_cases(world, as_user):
    page = as_user(world.b_staff).get("/cases")
    assert "共 1 件" in page.text
    page = as_user(world.a_staff).get("/cases", params={"q": "统计"})
    assert "共 2 件" in page.text
    page = as_user(world.supervisor).get("/cases", params={"department_id": world.b.id})
    assert "共 1 件" in page.text
    as_user(staff(world.desk)).get("/cases", params={"overdue": "1", "state": "bogus", "kind": "x"})
