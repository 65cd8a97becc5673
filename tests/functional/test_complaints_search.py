"""Staff search their department's cases from the case list: by number, subject,
description or enterprise name, never beyond what they may see, and whatever is
typed (or forged) into the box gets an answer, not a server error."""

from __future__ import annotations

import re

import pytest

from portal.complaints.queries import SEARCH_MAX
from tests.factories import EnterpriseFactory, enterprise_user
from tests.factories_complaints import World, make_service, signed_in


@pytest.fixture
def world(dbsession, clock, tmp_path):
    w = World(dbsession)
    w.brewery = enterprise_user(enterprise=EnterpriseFactory(name="蓬江区精酿啤酒有限公司"))
    service = make_service(clock, str(tmp_path))

    def open_case(user, dept, title, description):
        return service.open_case(
            dbsession, kind="complaint", title=title, description=description,
            enterprise_id=user.enterprise_id, opened_by_user_id=user.id, department_id=dept.id,
        )  # fmt: skip

    w.road = open_case(w.company, w.a, "园区道路破损", "货车无法通行，100% 影响出货。")
    w.water = open_case(w.brewery, w.a, "停水三天", "生产线停工，请尽快恢复供水。")
    w.tax = open_case(w.company, w.a, "发票问题", "税控盘_错误 代码 E_01。")
    # Another department's case with the same words: A's staff must not find it.
    w.elsewhere = open_case(w.brewery, w.b, "园区道路也破损", "停水，道路破损。")
    dbsession.flush()
    return w


@pytest.fixture
def a_staff(app, tm, dbsession, world):
    return signed_in(app, tm, dbsession, world.a_staff)


def found(client, q, status=200):
    page = client.get("/cases", params={"q": q}, status=status)
    return page, set(re.findall(r'href="/cases/(\d+)"', page.text))


def ids(*cases):
    return {str(c.id) for c in cases}


def test_the_box_searches_number_subject_description_and_enterprise(world, a_staff):
    assert found(a_staff, world.water.number)[1] == ids(world.water)
    assert found(a_staff, "道路")[1] == ids(world.road)
    assert found(a_staff, "生产线停工")[1] == ids(world.water)
    assert found(a_staff, "精酿啤酒")[1] == ids(world.water)
    # Every word must match, each anywhere.
    assert found(a_staff, "精酿 停水")[1] == ids(world.water)
    assert found(a_staff, "精酿 道路")[1] == set()
    page, hits = found(a_staff, "  道路  ")
    assert hits == ids(world.road)
    assert page.forms["case-filter"]["q"].value == "道路"


def test_the_search_stays_inside_the_scope(world, app, tm, dbsession):
    # The other department's case, by its words and by its number: not for A's staff.
    a_staff = signed_in(app, tm, dbsession, world.a_staff)
    assert found(a_staff, "也破损")[1] == set()
    assert found(a_staff, world.elsewhere.number)[1] == set()
    # B's staff find it; the enterprise finds only its own.
    b_staff = signed_in(app, tm, dbsession, world.b_staff)
    assert found(b_staff, "道路")[1] == ids(world.elsewhere)
    company = signed_in(app, tm, dbsession, world.company)
    assert found(company, "破损")[1] == ids(world.road)
    assert found(company, "精酿")[1] == set()


def test_like_wildcards_are_plain_characters(world, a_staff):
    assert found(a_staff, "%")[1] == ids(world.road)
    assert found(a_staff, "100%")[1] == ids(world.road)
    assert found(a_staff, "_")[1] == ids(world.tax)
    assert found(a_staff, "E_01")[1] == ids(world.tax)
    assert found(a_staff, "E%01")[1] == set()
    assert found(a_staff, "\\")[1] == set()


@pytest.mark.parametrize(
    "q",
    [
        "道\x00路",  # NUL: PostgreSQL refuses it in any text parameter
        "道\u200b路",  # a zero-width space pasted from a chat
        "道\x1b[31m路",
        "'; DROP TABLE cases; --",
        "<script>alert(1)</script>",
        "😀" * 20,
        "道路" + " " * 500,
    ],
)
def test_odd_characters_get_an_answer(world, a_staff, q):
    page, _hits = found(a_staff, q)
    assert "<script>alert(1)</script>" not in page.text


def test_control_characters_are_read_as_spaces(world, a_staff):
    # Two words, each found in the road case's subject (not next to each other).
    assert found(a_staff, "区\x00破")[1] == ids(world.road)
    assert found(a_staff, "园区\x00停水")[1] == set()


def test_a_huge_search_is_cut_and_the_user_told(world, a_staff):
    page, hits = found(a_staff, "道路" + "x" * 20_000)
    assert f"最多 {SEARCH_MAX} 个字符" in page.text
    assert len(page.forms["case-filter"]["q"].value) == SEARCH_MAX
    assert hits == set()
    page, hits = found(a_staff, "道路 " * 400)
    assert hits == ids(world.road)


def test_a_query_string_that_is_not_utf8_is_explained(world, a_staff):
    # Answered site-wide by portal.web before any view reads the query.
    for raw in ("q=%FF%FE", "q=%ED%A0%80", "state=%C3&page=%FF"):
        page = a_staff.get(f"/cases?{raw}", status=400)
        assert "无法识别" in page.text
    listing = a_staff.get("/cases")
    assert set(re.findall(r'href="/cases/(\d+)"', listing.text)) == ids(
        world.road, world.water, world.tax
    )
