"""The case scope: who sees which cases, as data and as SQL; and the search text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.complaints.models import Case
from portal.complaints.queries import MAX_TERMS, SEARCH_MAX, clean_search, search
from portal.complaints.scope import NOTHING, CaseScope, scope_for
from portal.roles import Role
from tests.factories import LeaderFactory, UserFactory
from tests.factories_complaints import World, make_service, staff


@pytest.fixture
def world(dbsession):
    return World(dbsession)


@pytest.fixture
def cases(dbsession, world, clock, tmp_path):
    service = make_service(clock, str(tmp_path))

    def open_case(dept):
        return service.open_case(
            dbsession, kind="consult", title="范围", description="范围测试。",
            enterprise_id=world.company.enterprise_id, opened_by_user_id=world.company.id,
            department_id=dept.id if dept else None,
        )  # fmt: skip

    found = {"a": open_case(world.a), "b": open_case(world.b), "desk": open_case(None)}
    dbsession.flush()
    return found


def visible(dbsession, scope, cases):
    ids = set(dbsession.scalars(select(Case.id).where(scope.where())))
    return {name for name, case in cases.items() if case.id in ids}


def test_nobody_signed_in_sees_nothing(dbsession, cases):
    assert scope_for(dbsession, None, None) == NOTHING
    assert visible(dbsession, NOTHING, cases) == set()
    assert not NOTHING.covers(dbsession, cases["a"])


def test_an_inactive_account_sees_nothing(dbsession, world, cases):
    world.a_head.is_active = False
    assert scope_for(dbsession, world.a_head, world.desk.id) == NOTHING


def test_roles_add_up(dbsession, world, cases):
    # The head of A who is also a city leader in charge of B sees both.
    user = staff(world.a, Role.HEAD, Role.LEADER)
    LeaderFactory(departments=[world.b], user_id=user.id)
    dbsession.flush()
    scope = scope_for(dbsession, user, world.desk.id)
    assert scope.department_ids == {world.a.id, world.b.id}
    assert visible(dbsession, scope, cases) == {"a", "b"}
    assert scope.department_list() == sorted([world.a.id, world.b.id])


def test_the_mayor_and_the_desk_see_everything(dbsession, world, cases):
    mayor = UserFactory(roles=[Role.LEADER])
    LeaderFactory(is_mayor=True, user_id=mayor.id)
    dbsession.flush()
    for user in (mayor, world.desk_staff):
        scope = scope_for(dbsession, user, world.desk.id)
        assert scope.everything
        assert scope.department_list() is None
        assert visible(dbsession, scope, cases) == {"a", "b", "desk"}


def test_a_desk_editor_is_not_the_dispatch_desk(dbsession, world, cases):
    editor = staff(world.desk, Role.EDITOR)
    scope = scope_for(dbsession, editor, world.desk.id)
    assert not scope.everything
    assert visible(dbsession, scope, cases) == set()


def test_covers_is_the_where_clause_asked_about_one_case(dbsession, world, cases):
    leader = UserFactory(roles=[Role.LEADER])
    world.leader.user_id = leader.id
    dbsession.flush()
    for user in (world.a_staff, world.b_head, world.company, leader):
        scope = scope_for(dbsession, user, world.desk.id)
        seen = visible(dbsession, scope, cases)
        assert {n for n, c in cases.items() if scope.covers(dbsession, c)} == seen
    assert not CaseScope(department_ids=frozenset({world.a.id})).covers(dbsession, Case())


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("  道路   破损 ", "道路 破损"),
        ("道\x00路", "道 路"),
        ("道\u200b路", "道 路"),
        ("道\ud800路", "道 路"),
        ("\x1b[31m", "[31m"),
        ("", ""),
    ],
)
def test_search_text_is_cleaned(raw, text):
    assert clean_search(raw) == (text, False)


def test_a_long_search_is_cut_and_said_so():
    text, cut = clean_search("字" * (SEARCH_MAX + 1))
    assert cut
    assert len(text) == SEARCH_MAX
    assert clean_search("字" * SEARCH_MAX) == ("字" * SEARCH_MAX, False)


def test_search_takes_a_bounded_number_of_words():
    assert search("") is None
    many = search(" ".join(f"w{i}" for i in range(MAX_TERMS + 5)))
    assert many is not None
    assert len(many.clauses) == MAX_TERMS
