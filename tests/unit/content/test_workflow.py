"""The workflow's ACLs as a matrix: principal × state × permission."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pyramid.authorization import ACLHelper, Authenticated, Everyone

from portal import roles as P
from portal.content.models import State
from portal.content.workflow import (
    BY_NAME,
    EVENT_LABELS,
    STATE_LABELS,
    TRANSITIONS,
    acl_for,
    attachment_acl,
    available,
)
from portal.permissions import Permission as Perm
from portal.roles import Role

AUTHOR_ID, DEPT_ID, OTHER_DEPT = 7, 12, 13


def _user(uid: int, *roles: Role, dept: int | None = None) -> list[str]:
    return [Everyone, Authenticated, *P.principals_for(uid, set(roles), dept, None)]


WHO = {
    "anonymous": [Everyone],
    "enterprise": [Everyone, Authenticated, *P.principals_for(50, {Role.ENTERPRISE}, None, 3)],
    "author": _user(AUTHOR_ID, Role.EDITOR, dept=OTHER_DEPT),
    "former author": _user(AUTHOR_ID, Role.STAFF, dept=OTHER_DEPT),  # no longer an editor
    "portal editor": _user(20, Role.EDITOR),
    "dept editor": _user(21, Role.EDITOR, dept=DEPT_ID),
    "other editor": _user(22, Role.EDITOR, dept=OTHER_DEPT),
    "portal reviewer": _user(30, Role.REVIEWER),
    "dept reviewer": _user(31, Role.REVIEWER, dept=DEPT_ID),
    "other reviewer": _user(32, Role.REVIEWER, dept=OTHER_DEPT),
    "dept staff": _user(40, Role.STAFF, dept=DEPT_ID),
    "supervisor": _user(60, Role.SUPERVISOR),
    "admin": _user(1, Role.ADMIN),
}

V, H, D = Perm.CONTENT_VIEW, Perm.CONTENT_HISTORY, Perm.ATTACHMENT_DOWNLOAD
E, S, R, A = Perm.CONTENT_EDIT, Perm.CONTENT_SUBMIT, Perm.CONTENT_REVIEW, Perm.CONTENT_ARCHIVE
ALL = frozenset({V, H, D, E, S, R, A})
READ = frozenset({V, H, D})
NONE: frozenset[Perm] = frozenset()
PUBLIC = frozenset({V, D})

# What each principal holds on an item of department DEPT_ID written by AUTHOR_ID.
EXPECTED: dict[State, dict[str, frozenset[Perm]]] = {
    State.DRAFT: {
        "anonymous": NONE, "enterprise": NONE, "dept staff": NONE,
        "former author": NONE,
        "author": READ | {E, S}, "portal editor": READ | {E, S}, "dept editor": READ | {E, S},
        "other editor": NONE,
        "portal reviewer": READ | {E, S}, "dept reviewer": READ | {E, S}, "other reviewer": NONE,
        "supervisor": READ, "admin": ALL,
    },
    State.PENDING: {
        "anonymous": NONE, "enterprise": NONE, "dept staff": NONE,
        "former author": NONE,
        "author": READ | {S}, "portal editor": READ | {S}, "dept editor": READ | {S},
        "other editor": NONE,
        "portal reviewer": READ | {E, R}, "dept reviewer": READ | {E, R}, "other reviewer": NONE,
        "supervisor": READ, "admin": ALL,
    },
    State.PUBLISHED: {
        "anonymous": PUBLIC, "enterprise": PUBLIC, "dept staff": PUBLIC,
        "former author": PUBLIC,
        "author": READ, "portal editor": READ, "dept editor": READ, "other editor": PUBLIC,
        "portal reviewer": READ | {E, R, A}, "dept reviewer": READ | {E, R, A},
        "other reviewer": PUBLIC,
        "supervisor": READ, "admin": ALL,
    },
    State.ARCHIVED: {
        "anonymous": NONE, "enterprise": NONE, "dept staff": NONE,
        "former author": NONE,
        "author": READ, "portal editor": READ, "dept editor": READ, "other editor": NONE,
        "portal reviewer": READ | {A}, "dept reviewer": READ | {A}, "other reviewer": NONE,
        "supervisor": READ, "admin": ALL,
    },
}  # fmt: skip


def item(
    state: State, department_id: int | None = DEPT_ID, author: int | None = AUTHOR_ID
) -> object:
    return SimpleNamespace(state=state.value, department_id=department_id, created_by_id=author)


def held(acl: list, principals: list[str]) -> frozenset[Perm]:
    context = SimpleNamespace(__acl__=acl)
    return frozenset(p for p in ALL if ACLHelper().permits(context, principals, p))


CASES = [(state, who) for state in State for who in WHO]


@pytest.mark.parametrize(("state", "who"), CASES, ids=[f"{s.value}-{w}" for s, w in CASES])
def test_acl_for_grants_exactly_the_expected_permissions(state, who):
    assert held(acl_for(item(state)), WHO[who]) == EXPECTED[state][who]


@pytest.mark.parametrize("state", list(State))
def test_attachment_acl_only_allows_downloading_to_whoever_may_view_the_item(state):
    acl = attachment_acl(item(state))
    for who, principals in WHO.items():
        expected = ALL if who == "admin" else frozenset({D}) if V in EXPECTED[state][who] else NONE
        assert held(acl, principals) == expected, who


def test_an_item_without_department_is_left_to_the_portal_wide_staff():
    acl = acl_for(item(State.DRAFT, department_id=None, author=None))
    assert E in held(acl, WHO["portal editor"])
    assert held(acl, WHO["dept editor"]) == NONE
    assert held(acl, WHO["dept reviewer"]) == NONE


def test_every_state_and_transition_has_a_label_and_the_graph_is_closed():
    assert set(STATE_LABELS) == set(State)
    assert set(EVENT_LABELS) == {"created", *BY_NAME}
    assert {t.name for t in TRANSITIONS if t.needs_comment} == {"reject", "retract"}
    for t in TRANSITIONS:
        assert t.source != t.target


@pytest.mark.parametrize(
    ("state", "who", "names"),
    [
        (State.DRAFT, "author", ["submit"]),
        (State.PENDING, "author", ["withdraw"]),
        (State.PENDING, "dept reviewer", ["publish", "reject"]),
        (State.PUBLISHED, "portal reviewer", ["retract", "archive"]),
        (State.ARCHIVED, "dept reviewer", ["republish"]),
        (State.PENDING, "supervisor", []),
        (State.PUBLISHED, "anonymous", []),
    ],
)
def test_available_lists_the_transitions_the_permission_check_allows(state, who, names):
    thing = item(state)
    perms = held(acl_for(thing), WHO[who])
    assert [t.name for t in available(thing, lambda p: p in perms)] == names
