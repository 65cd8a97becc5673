"""The publication workflow, declared as data (after Kotti / Substance D).

Each state maps principals to the permissions they hold on an item in that state;
:func:`acl_for` turns that map into the item's ACL, filling in the item's own
department and author. Transitions name the permission that guards them, so the
view asks ``request.has_permission(transition.permission, item)`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyramid.authorization import ALL_PERMISSIONS, DENY_ALL, Allow, Everyone

from portal import roles as P
from portal.content.models import State
from portal.i18n import N_
from portal.permissions import Permission as Perm
from portal.roles import Role

if TYPE_CHECKING:
    from portal.content.models import ContentItem

ACE = tuple[str, str, str]


@dataclass(frozen=True)
class Transition:
    name: str
    source: State
    target: State
    permission: Perm
    #: shown on the button; msgid for the zh_CN catalog
    label: str
    #: whether the actor must say why (rejection, retraction)
    needs_comment: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", State.DRAFT, State.PENDING, Perm.CONTENT_SUBMIT, N_("Submit for review")),
    Transition("withdraw", State.PENDING, State.DRAFT, Perm.CONTENT_SUBMIT, N_("Withdraw")),
    Transition(
        "publish", State.PENDING, State.PUBLISHED, Perm.CONTENT_REVIEW, N_("Approve and publish")
    ),
    Transition("reject", State.PENDING, State.DRAFT, Perm.CONTENT_REVIEW, N_("Send back"), True),
    Transition("retract", State.PUBLISHED, State.DRAFT, Perm.CONTENT_REVIEW, N_("Retract"), True),
    Transition("archive", State.PUBLISHED, State.ARCHIVED, Perm.CONTENT_ARCHIVE, N_("Archive")),
    Transition("republish", State.ARCHIVED, State.PUBLISHED, Perm.CONTENT_ARCHIVE, N_("Republish")),
)

BY_NAME = {t.name: t for t in TRANSITIONS}

STATE_LABELS = {
    State.DRAFT: N_("Draft"),
    State.PENDING: N_("Pending review"),
    State.PUBLISHED: N_("Published"),
    State.ARCHIVED: N_("Archived"),
}

#: how history rows name each step (including creation, which is no transition)
EVENT_LABELS = {"created": N_("Created"), **{t.name: t.label for t in TRANSITIONS}}

# Who may do what in each state. "author" is the item's creator; "editors" and
# "reviewers" are the portal office (@all) plus those of the item's department.
_READ = (Perm.CONTENT_VIEW, Perm.CONTENT_HISTORY, Perm.ATTACHMENT_DOWNLOAD)
_WRITE = (*_READ, Perm.CONTENT_EDIT)

STATE_MAP: dict[State, dict[str, tuple[Perm, ...]]] = {
    State.DRAFT: {
        "author": (*_WRITE, Perm.CONTENT_SUBMIT),
        "editors": (*_WRITE, Perm.CONTENT_SUBMIT),
        "reviewers": (*_WRITE, Perm.CONTENT_SUBMIT),
        "supervisor": _READ,
    },
    State.PENDING: {
        "author": (*_READ, Perm.CONTENT_SUBMIT),
        "editors": (*_READ, Perm.CONTENT_SUBMIT),
        "reviewers": (*_WRITE, Perm.CONTENT_REVIEW),
        "supervisor": _READ,
    },
    State.PUBLISHED: {
        "everyone": (Perm.CONTENT_VIEW, Perm.ATTACHMENT_DOWNLOAD),
        "author": _READ,
        "editors": _READ,
        "reviewers": (*_WRITE, Perm.CONTENT_REVIEW, Perm.CONTENT_ARCHIVE),
        "supervisor": _READ,
    },
    State.ARCHIVED: {
        "author": _READ,
        "editors": _READ,
        "reviewers": (*_READ, Perm.CONTENT_ARCHIVE),
        "supervisor": _READ,
    },
}


def _principals(item: ContentItem) -> dict[str, list[str]]:
    def scoped(role: Role) -> list[str]:
        found = [P.scoped(role, None)]
        if item.department_id is not None:
            found.append(P.scoped(role, item.department_id))
        return found

    return {
        "everyone": [Everyone],
        # author:N, not user:N: an editor whose role is taken away must not keep
        # editing the drafts they left behind (only editors and reviewers hold it).
        "author": [P.author(item.created_by_id)] if item.created_by_id else [],
        "editors": scoped(Role.EDITOR),
        "reviewers": scoped(Role.REVIEWER),
        "supervisor": [P.role(Role.SUPERVISOR)],
    }


def acl_for(item: ContentItem) -> list[ACE]:
    acl: list[ACE] = [(Allow, P.role(Role.ADMIN), ALL_PERMISSIONS)]
    who = _principals(item)
    for group, perms in STATE_MAP[State(item.state)].items():
        acl.extend((Allow, principal, perm) for principal in who[group] for perm in perms)
    acl.append(DENY_ALL)
    return acl


def attachment_acl(item: ContentItem) -> list[ACE]:
    """An attachment may be downloaded by whoever may view its item."""
    return [
        ace for ace in acl_for(item) if ace[2] in (Perm.ATTACHMENT_DOWNLOAD, ALL_PERMISSIONS)
    ] + [DENY_ALL]


def available(item: ContentItem, allowed: Callable[[Perm], bool]) -> list[Transition]:
    """Transitions out of the item's state that the caller's permission check allows."""
    return [t for t in TRANSITIONS if t.source == item.state and allowed(t.permission)]
