"""Who may do what to a content item, as one table: role × workflow state × action.

The table below is the specification, written from the rules in
``portal.content.workflow.STATE_MAP`` and the security notes of REFERENCE.md:

- drafts are seen only by the content people of the owning department (editors and
  reviewers of dept A or of the portal office), the supervisor and the admin;
- a pending item is frozen for editors (they may withdraw it: "submit" permission)
  and editable by reviewers, who alone publish or send it back;
- published items are public (view and download, no history); only reviewers edit,
  retract and archive them;
- archived items leave the public site; reviewers may republish;
- an author's own rights end when their editor role is taken away.

Every cell is checked through the real security policy (``request.has_permission``
against the item's ``__acl__`` with a real user's principals) and, for view, edit and
download, through HTTP as that user.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from pyramid.request import Request, apply_request_extensions

from portal.accounts.models import User
from portal.content.files import LocalFileStorage
from portal.content.models import Attachment, ContentItem, State
from portal.content.services import ContentService
from portal.permissions import Permission as Perm
from portal.roles import Role
from tests import factories

STATES = (State.DRAFT, State.PENDING, State.PUBLISHED, State.ARCHIVED)

#: action letter -> the permission it needs (download is checked on the attachment)
ACTIONS = {
    "V": Perm.CONTENT_VIEW,
    "E": Perm.CONTENT_EDIT,
    "S": Perm.CONTENT_SUBMIT,
    "R": Perm.CONTENT_REVIEW,
    "A": Perm.CONTENT_ARCHIVE,
    "H": Perm.CONTENT_HISTORY,
    "D": Perm.ATTACHMENT_DOWNLOAD,
}
ALL = "VESRAHD"
PUBLIC = ("", "", "VD", "")

# V view · E edit · S submit/withdraw · R review (publish, send back, retract)
# A archive/republish · H history · D download the attachment
#
#  role                   draft     pending  published  archived
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "anonymous":           PUBLIC,
    "enterprise":          PUBLIC,
    "staff of A":          PUBLIC,
    "head of A":           PUBLIC,
    "leader":              PUBLIC,
    "editor (office)":     ("VESHD", "VSHD",  "VHD",    "VHD"),
    "editor of A":         ("VESHD", "VSHD",  "VHD",    "VHD"),
    "editor of B":         PUBLIC,
    "reviewer (office)":   ("VESHD", "VERHD", "VERAHD", "VAHD"),
    "reviewer of A":       ("VESHD", "VERHD", "VERAHD", "VAHD"),
    "reviewer of B":       PUBLIC,
    "supervisor":          ("VHD",   "VHD",   "VHD",    "VHD"),
    "admin":               (ALL,     ALL,     ALL,      ALL),
    "author":              ("VESHD", "VSHD",  "VHD",    "VHD"),
    "former author":       PUBLIC,
}  # fmt: skip


@dataclass
class World:
    dept_a: Any
    dept_b: Any
    author: User
    items: dict[State, ContentItem]
    attachments: dict[State, Attachment]


@pytest.fixture
def world(app, dbsession, clock, settings) -> World:
    dept_a, dept_b = factories.DepartmentFactory(), factories.DepartmentFactory()
    author = factories.UserFactory(roles=[Role.EDITOR], department=dept_a)
    content = ContentService(
        dbsession,
        clock,
        LocalFileStorage(settings["qzt.storage_dir"]),
        app.registry.notify,
        settings["qzt.upload.max_bytes"],
    )
    items, attachments = {}, {}
    for state in STATES:
        item = factories.ContentItemFactory(
            state=state.value, department=dept_a, created_by=author, title=f"{state.value}-条目"
        )
        pdf = io.BytesIO(b"%PDF-1.4\n% test attachment\n")
        attachments[state] = content.add_attachment(item, "通知.pdf", pdf, author)
        items[state] = item
    return World(dept_a, dept_b, author, items, attachments)


def user_for(role: str, world: World) -> User | None:
    a, b = world.dept_a, world.dept_b
    make = factories.UserFactory
    if role == "former author":
        world.author.set_roles({Role.STAFF})  # moved to other work in the same department
        return world.author
    builders: dict[str, Any] = {
        "anonymous": lambda: None,
        "enterprise": lambda: factories.enterprise_user(is_enterprise_admin=True),
        "staff of A": lambda: make(roles=[Role.STAFF], department=a),
        "head of A": lambda: make(roles=[Role.STAFF, Role.HEAD], department=a),
        "leader": lambda: make(roles=[Role.LEADER], title="副市长"),
        "editor (office)": lambda: make(roles=[Role.EDITOR]),
        "editor of A": lambda: make(roles=[Role.EDITOR], department=a),
        "editor of B": lambda: make(roles=[Role.EDITOR], department=b),
        "reviewer (office)": lambda: make(roles=[Role.REVIEWER]),
        "reviewer of A": lambda: make(roles=[Role.REVIEWER], department=a),
        "reviewer of B": lambda: make(roles=[Role.REVIEWER], department=b),
        "supervisor": lambda: make(roles=[Role.SUPERVISOR]),
        "admin": lambda: make(roles=[Role.ADMIN]),
        "author": lambda: world.author,
    }
    return builders[role]()  # type: ignore[no-any-return]


def request_as(app: Any, user: User | None) -> Request:
    request = Request.blank("/")
    request.registry = app.registry
    apply_request_extensions(request)
    request.user = user
    return request


def allowed_actions(request: Request, item: ContentItem, attachment: Attachment) -> str:
    found = ""
    for letter, permission in ACTIONS.items():
        context = attachment if letter == "D" else item
        if request.has_permission(permission, context):
            found += letter
    return found


def test_the_table_covers_every_role_and_letter():
    assert all(set("".join(row)) <= set(ALL) for row in EXPECTED.values())
    assert len(EXPECTED) == 15


@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_permission_layer(app, dbsession, world, role, state):
    user = user_for(role, world)
    dbsession.flush()
    request = request_as(app, user)
    expected = EXPECTED[role][STATES.index(state)]
    got = allowed_actions(request, world.items[state], world.attachments[state])
    assert got == expected, f"{role} on a {state.value} item"


def login_as(testapp: Any, login: Any, user: User | None) -> None:
    if user is not None:
        assert login(user).status_int == 303


def outcome(testapp: Any, url: str) -> str:
    """'allowed', or how a refusal looked: 'login' (sent to log in) or 'forbidden'."""
    response = testapp.get(url, expect_errors=True)
    if response.status_int == 200:
        return "allowed"
    if response.status_int == 303 and "/login?next=" in response.location:
        return "login"
    assert response.status_int == 403, (url, response.status)
    assert "没有权限" in response.text  # the Chinese 403 page
    return "forbidden"


@pytest.mark.parametrize("role", list(EXPECTED))
def test_http_layer(app, testapp, login, dbsession, world, role):
    user = user_for(role, world)
    dbsession.flush()
    login_as(testapp, login, user)
    refused = "login" if user is None else "forbidden"
    for state in STATES:
        item, attachment = world.items[state], world.attachments[state]
        expected = EXPECTED[role][STATES.index(state)]
        urls = {
            "V": f"/content/{item.id}",
            "E": f"/manage/content/{item.id}/edit",
            "D": f"/attachments/{attachment.id}/{quote(attachment.filename)}",
        }
        for letter, url in urls.items():
            want = "allowed" if letter in expected else refused
            assert outcome(testapp, url) == want, f"{role}: {letter} on a {state.value} item"
