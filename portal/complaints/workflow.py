"""The case workflow as data: states, the transition map, and the ACL.

受理 → 派单 → 签收 → 办理 → 答复 (the head signs it off) → 办结 → 回访 → 评价, with the
side branches 退单 (reviewed by the dispatch desk), 改派, 延期, 补充材料 (clocks
pause), 并单 and 重办 (整改 after a bad rating). An action that does not move the
case (asking for an extension, a follow-up record) has no target state; it still
goes through this map and the audit trail.

Every transition names the permission that guards it; :func:`acl_for` says who
holds which permission on a given case, from the case's own data (its lead,
co-handling departments, its enterprise, the dispatch desk); who may read it is
:mod:`portal.complaints.scope`'s rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyramid.authorization import ALL_PERMISSIONS, DENY_ALL, Allow

from portal import roles as P
from portal.complaints.models import CaseState as S
from portal.i18n import N_
from portal.permissions import Permission as Perm
from portal.roles import Role

if TYPE_CHECKING:
    from portal.complaints.models import Case

ACE = tuple[str, str, Any]


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[S]
    #: None: an action that leaves the case in its state
    target: S | None
    permission: Perm
    label: str  # msgid for the button and the audit trail
    #: what the actor must write: "" (nothing), or the msgid that labels the text box
    needs_comment: bool = False
    #: shown on the case page as a button (False: reached through another action)
    manual: bool = True


def _t(
    name: str,
    sources: tuple[S, ...],
    target: S | None,
    permission: Perm,
    label: str,
    needs_comment: bool = False,
    manual: bool = True,
) -> Transition:
    return Transition(name, frozenset(sources), target, permission, label, needs_comment, manual)


_WORKING = (S.HANDLING, S.AWAITING_INFO)

# Who moves the case: the dispatch desk (DESK), the lead department's staff (HANDLE)
# and head (HEAD), the enterprise (ENTERPRISE).
DESK, HANDLE, HEAD, ENTERPRISE = (
    Perm.CASE_DISPATCH,
    Perm.CASE_HANDLE,
    Perm.CASE_APPROVE,
    Perm.CASE_RESPOND,
)
_OPEN_BEFORE_REPLY = (S.ACCEPTED, S.DISPATCHED, S.RETURNED, S.HANDLING, S.AWAITING_INFO)

TRANSITIONS: tuple[Transition, ...] = (
    # -- the main line ------------------------------------------------------------------
    _t("dispatch", (S.ACCEPTED,), S.DISPATCHED, DESK, N_("Dispatch")),
    _t("sign", (S.DISPATCHED,), S.HANDLING, HANDLE, N_("Sign for the case")),
    _t("submit_reply", (S.HANDLING,), S.REPLY_REVIEW, HANDLE,
       N_("Submit the reply for sign-off"), True),
    _t("approve_reply", (S.REPLY_REVIEW,), S.REPLIED, HEAD, N_("Sign off and send the reply")),
    _t("reject_reply", (S.REPLY_REVIEW,), S.HANDLING, HEAD,
       N_("Send the reply back for rework"), True),
    _t("close", (S.REPLIED,), S.CLOSED, HEAD, N_("Close the case")),
    _t("visit", (S.CLOSED,), S.VISITED, DESK, N_("Record the follow-up visit"), True),
    _t("rate", (S.CLOSED, S.VISITED), S.RATED, ENTERPRISE, N_("Rate the handling"),
       manual=False),
    # -- side branches ------------------------------------------------------------------
    _t("return", (S.DISPATCHED, S.HANDLING), S.RETURNED, HANDLE,
       N_("Return the case (misrouted)"), True),
    _t("approve_return", (S.RETURNED,), S.ACCEPTED, DESK, N_("Accept the return")),
    _t("reject_return", (S.RETURNED,), S.DISPATCHED, DESK, N_("Refuse the return"), True),
    _t("redispatch", (S.DISPATCHED, S.HANDLING, S.AWAITING_INFO), S.DISPATCHED, DESK,
       N_("Re-dispatch to another department"), True),
    _t("request_info", (S.HANDLING,), S.AWAITING_INFO, HANDLE,
       N_("Ask the enterprise for more information"), True),
    _t("provide_info", (S.AWAITING_INFO,), S.HANDLING, ENTERPRISE,
       N_("Send the information asked for"), True, manual=False),
    _t("request_extension", _WORKING, None, HANDLE, N_("Ask for an extension"), True,
       manual=False),
    _t("approve_extension", _WORKING, None, DESK, N_("Approve the extension"), manual=False),
    _t("reject_extension", _WORKING, None, DESK, N_("Refuse the extension"), True,
       manual=False),
    _t("merge", _OPEN_BEFORE_REPLY, S.MERGED, DESK, N_("Merge into another case"), True,
       manual=False),
    _t("reopen", (S.RATED,), S.RECTIFYING, ENTERPRISE, N_("Reopen for rectification"),
       manual=False),
    _t("record_followup", (S.RECTIFYING,), None, HANDLE,
       N_("Record the rectification follow-up"), True),
    _t("close_rectification", (S.RECTIFYING,), S.CLOSED, HEAD, N_("Close the rectification")),
)  # fmt: skip

BY_NAME: dict[str, Transition] = {t.name: t for t in TRANSITIONS}

STATE_LABELS: dict[str, str] = {
    S.ACCEPTED: N_("Accepted"),
    S.DISPATCHED: N_("Dispatched"),
    S.RETURNED: N_("Returned, under review"),
    S.HANDLING: N_("Being handled"),
    S.AWAITING_INFO: N_("Waiting for information"),
    S.REPLY_REVIEW: N_("Reply awaiting sign-off"),
    S.REPLIED: N_("Replied"),
    S.CLOSED: N_("Closed"),
    S.VISITED: N_("Followed up"),
    S.RATED: N_("Rated"),
    S.RECTIFYING: N_("Under rectification"),
    S.MERGED: N_("Merged"),
}

#: audit-trail labels: transitions plus what the system records
STEP_LABELS: dict[str, str] = {
    "open": N_("Case received"),
    "auto_dispatch": N_("Dispatched by the catalogue"),
    "note": N_("Note"),
    "assist_note": N_("Co-handling opinion"),
    "add_assist": N_("Co-handling department added"),
    "alert_warning": N_("Reminder (催办)"),
    "alert_breach": N_("Deadline missed: notice copied to the leader in charge"),
    "alert_supervise": N_("Escalated to supervision (督办)"),
    "attach": N_("File attached"),
    **{t.name: t.label for t in TRANSITIONS},
}


def allowed_moves(case: Case) -> list[Transition]:
    """Every transition whose source is the case's state (permission not considered)."""
    return [t for t in TRANSITIONS if case.state in t.sources]


def available(case: Case, allowed: Callable[[Perm], bool]) -> list[Transition]:
    return [t for t in allowed_moves(case) if t.manual and allowed(t.permission)]


def _staff(dept_id: int | None) -> list[str]:
    if dept_id is None:
        return []
    return [P.scoped(Role.STAFF, dept_id), P.scoped(Role.HEAD, dept_id)]


def acl_for(case: Case, desk_department_id: int | None, viewer: str | None = None) -> list[ACE]:
    """Who may do what on ``case``. The transition map then limits moves by state.

    Reading is granted to ``viewer`` alone: the principal of the request's user when
    the case is in their :class:`~portal.complaints.scope.CaseScope` (the rule the
    lists use). Every other permission follows from the case's data; each of their
    holders is inside that scope too (``tests/functional/test_complaints_access.py``).
    """
    acl: list[ACE] = [(Allow, P.role(Role.ADMIN), ALL_PERMISSIONS)]

    def grant(principals: list[str], *perms: Perm) -> None:
        acl.extend((Allow, who, perm) for who in principals for perm in perms)

    if viewer is not None:
        grant([viewer], Perm.CASE_VIEW)
    # The enterprise (any of its users) or, without one, the person who filed it.
    if case.enterprise_id is not None:
        grant([P.enterprise(case.enterprise_id)], Perm.CASE_RESPOND)
    elif case.opened_by_id is not None:
        grant([P.user(case.opened_by_id)], Perm.CASE_RESPOND)
    grant(_staff(desk_department_id), Perm.CASE_DISPATCH)
    lead = case.department_id
    grant(_staff(lead), Perm.CASE_HANDLE)
    if lead is not None:
        grant([P.scoped(Role.HEAD, lead)], Perm.CASE_APPROVE)
    for dept in case.assists:
        grant(_staff(dept.id), Perm.CASE_ASSIST)
    acl.append(DENY_ALL)
    return acl
