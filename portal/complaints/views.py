"""Case pages: the enterprise's intake form and its cases, the staff's lists, one
case with its workflow, notes, files and audit trail.

Thin views: the route factory gives the case (whose ACL decides), the service
changes it inside a savepoint, and a refusal is shown in Chinese with nothing kept.
"""

from __future__ import annotations

from typing import Any

from pyramid.csrf import check_csrf_origin, check_csrf_token
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import select

from portal.clock import IClock
from portal.complaints import queries
from portal.complaints.interfaces import CASE_TYPES, ICaseService
from portal.complaints.models import (
    Case,
    CaseCategory,
    CaseExtension,
    CaseState,
    Decision,
)
from portal.complaints.notify import KIND_LABELS, when
from portal.complaints.scope import CaseScope
from portal.complaints.services import RATING_LEVELS
from portal.complaints.workflow import (
    BY_NAME,
    STATE_LABELS,
    STEP_LABELS,
    allowed_moves,
    available,
)
from portal.content.files import FORMATS, IFileStorage
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_, _
from portal.permissions import Permission as Perm
from portal.web import stored_file

#: room for the multipart envelope around the files (boundaries, headers, fields)
MULTIPART_ALLOWANCE = 64 * 1024

DONE_MESSAGES = {
    "dispatch": N_("The case was dispatched."),
    "sign": N_("You signed for the case."),
    "submit_reply": N_("The reply was submitted for sign-off."),
    "approve_reply": N_("The reply was signed off and sent to the enterprise."),
    "reject_reply": N_("The reply was sent back for rework."),
    "close": N_("The case is closed."),
    "visit": N_("The follow-up visit was recorded."),
    "rate": N_("Thank you for your rating."),
    "return": N_("The case was returned to the dispatch desk."),
    "approve_return": N_("The return was accepted."),
    "reject_return": N_("The return was refused; the department must sign again."),
    "redispatch": N_("The case was re-dispatched."),
    "request_info": N_("The enterprise was asked for more information; the clock is paused."),
    "provide_info": N_("Your information was sent to the department."),
    "request_extension": N_("The extension was asked for."),
    "approve_extension": N_("The extension was approved and the enterprise told."),
    "reject_extension": N_("The extension was refused."),
    "merge": N_("The case was merged."),
    "record_followup": N_("The follow-up was recorded."),
    "close_rectification": N_("The rectification is closed."),
}

#: why a user may not make a move, in words that fit the move
REFUSED = {
    "rate": N_("You can only rate your own enterprise's cases."),
    "provide_info": N_("Only the enterprise that filed the case can answer it."),
}


def _service(request: Request) -> Any:
    return request.find_service(ICaseService)


def _can(request: Request, permission: Perm, context: Any) -> bool:
    return bool(request.has_permission(permission, context))


def _translate(request: Request, error: InputError) -> str:
    return str(get_localizer(request).translate(_(error.message, mapping=error.mapping)))


def _int(raw: Any) -> int | None:
    raw = str(raw or "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def departments(request: Request) -> list[tuple[int, str]]:
    rows = request.dbsession.execute(
        select(Department.id, Department.name)
        .where(Department.is_active.is_(True))
        .order_by(Department.sort_order)
    )
    return [(r.id, r.name) for r in rows]


def categories(request: Request) -> list[CaseCategory]:
    return list(
        request.dbsession.scalars(
            select(CaseCategory)
            .where(CaseCategory.is_active.is_(True))
            .order_by(CaseCategory.group, CaseCategory.sort_order)
        )
    )


def _body_too_large(request: Request, limit: int) -> bool:
    length = request.content_length
    return length is None or length > limit + MULTIPART_ALLOWANCE


def _read_form(request: Request) -> None:
    """CSRF by hand, after the size check: Pyramid's own check would parse the body."""
    check_csrf_origin(request, raises=True)
    request.add_finished_callback(lambda r: r.body_file_raw.close())
    check_csrf_token(request, raises=True)


def _uploads(request: Request) -> list[Any]:
    return [f for f in request.POST.getall("files") if hasattr(f, "file") and f.filename]


# -- intake -------------------------------------------------------------------------------
def _intake_values(request: Request) -> dict[str, Any]:
    user = request.user
    return {
        "kind": "",
        "category": "",
        "department": "",
        "title": "",
        "description": "",
        "contact_email": (user.email if user else "") or "",
    }


def _render_intake(
    request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    policy = request.registry["qzt.complaints.policy"]
    response = render_to_response(
        "portal:templates/complaints/new.jinja2",
        {
            "values": values,
            "errors": errors,
            "kinds": [(k, KIND_LABELS[k]) for k in CASE_TYPES],
            "categories": categories(request),
            "departments": departments(request),
            "max_files": policy.max_attachments,
            "max_upload_mb": policy.max_upload >> 20,
            "accept": ",".join(f".{ext}" for ext in FORMATS),
            "accepted_names": " ".join(ext.upper() for ext in FORMATS),
        },
        request=request,
    )
    response.status = status
    return response


@view_config(route_name="cases.new", request_method="GET", permission=Perm.CASE_CREATE)
def intake_form(request: Request) -> Response | HTTPSeeOther:
    # (A query string that is not UTF-8 never gets here: portal.web answers 400.)
    values = _intake_values(request)
    # ?department=<id>: the link on a department's page chooses it in the form.
    values["department"] = request.GET.get("department", "")[:12]
    return _render_intake(request, values, {})


@view_config(
    route_name="cases.new",
    request_method="POST",
    permission=Perm.CASE_CREATE,
    require_csrf=False,
)
def intake(request: Request) -> Response:
    policy = request.registry["qzt.complaints.policy"]
    limit = policy.max_upload * policy.max_attachments
    if _body_too_large(request, limit):
        values = _intake_values(request)
        message = _translate(
            request,
            InputError("files", N_("The files together are larger than ${limit} MB."),
                       limit=limit >> 20),
        )  # fmt: skip
        return _render_intake(request, values, {"files": message}, status=413)
    _read_form(request)
    post = request.POST
    values = {name: post.get(name, "") for name in _intake_values(request)}
    uploads = _uploads(request)
    user = request.user
    service = _service(request)
    storage = request.find_service(IFileStorage)
    stored: list[str] = []
    savepoint = request.dbsession.begin_nested()
    try:
        if len(uploads) > policy.max_attachments:
            raise InputError("files", N_("At most ${n} files per case."), n=policy.max_attachments)
        case = service.open_case(
            request.dbsession,
            kind=values["kind"],
            title=values["title"],
            description=values["description"],
            enterprise_id=user.enterprise_id,
            opened_by_user_id=user.id,
            department_id=_department_choice(values["department"]),
            category=values["category"] or None,
            contact_email=values["contact_email"],
        )
        for upload in uploads:
            row = service.add_upload(request.dbsession, case, upload.filename, upload.file, user)
            stored.append(row.id)
        request.dbsession.flush()
    except InputError as error:
        savepoint.rollback()
        for key in stored:
            storage.delete(key)
        field = "files" if error.field == "attachments" else error.field
        field = "department" if field == "enterprise" else field
        return _render_intake(request, values, {field: _translate(request, error)}, status=400)
    finally:
        for upload in uploads:
            upload.file.close()
    savepoint.commit()
    request.session.flash(
        get_localizer(request).translate(
            _("Your case was received. Its number is ${number}.", mapping={"number": case.number})
        ),
        "success",
    )
    return HTTPSeeOther(request.route_url("cases.detail", id=case.id))


def _department_choice(raw: str) -> Any:
    """ "" (不确定) → None: the dispatch desk routes the case; anything else is checked
    by the service (a non-number is refused there with the field named)."""
    raw = (raw or "").strip()
    return None if raw in ("", "unsure") else raw


# -- lists --------------------------------------------------------------------------------
def parse_filter(request: Request) -> tuple[queries.CaseFilter, str | None]:
    """The list's filter from the query string, and what to tell the user about it."""
    q, cut = queries.clean_search(request.GET.get("q", ""))
    state = request.GET.get("state") or None
    kind = request.GET.get("kind") or None
    flt = queries.CaseFilter(
        state=state if state in set(CaseState) else None,
        kind=kind if kind in CASE_TYPES else None,
        department_id=_int(request.GET.get("department_id")),
        q=q,
        overdue=request.GET.get("overdue") == "1",
    )
    message = N_("Search for at most ${n} characters; the rest was left out.") if cut else None
    return flt, message


def _list_departments(request: Request, scope: CaseScope) -> list[tuple[int, str]]:
    """The department filter's choices: the departments of the user's scope."""
    if scope.everything:
        return departments(request)
    return [(i, name) for i, name in departments(request) if i in scope.department_ids]


@view_config(
    route_name="cases.list",
    request_method="GET",
    renderer="portal:templates/complaints/list.jinja2",
    permission=Perm.CASE_LIST,
)
def case_list(context: Any, request: Request) -> Any:
    flt, problem = parse_filter(request)
    now = request.find_service(IClock).now()
    desk = context.desk_department_id
    scope: CaseScope = request.case_scope
    page = queries.listing(
        request.dbsession, scope, flt, _int(request.GET.get("page")) or 1,
        request.registry.settings["qzt.page_size"], now,
    )  # fmt: skip
    choices = _list_departments(request, scope)
    return {
        "page": page,
        "filter": flt,
        "problem": problem
        and get_localizer(request).translate(_(problem, mapping={"n": queries.SEARCH_MAX})),
        "search_max": queries.SEARCH_MAX,
        "now": now,
        "state_labels": STATE_LABELS,
        "kind_labels": KIND_LABELS,
        "departments": choices if len(choices) > 1 else [],
        "can_create": _can(request, Perm.CASE_CREATE, context),
        "can_stats": _can(request, Perm.CASE_STATS, context),
        "is_desk": desk is not None and request.user.department_id == desk,
        "when": when,
    }


# -- one case -----------------------------------------------------------------------------
def _pending_extension(request: Request, case: Case) -> CaseExtension | None:
    found: CaseExtension | None = request.dbsession.scalar(
        select(CaseExtension).where(
            CaseExtension.case_id == case.id, CaseExtension.decision == Decision.PENDING.value
        )
    )
    return found


@view_config(
    route_name="cases.detail",
    request_method="GET",
    renderer="portal:templates/complaints/detail.jinja2",
    permission=Perm.CASE_VIEW,
)
def case_page(context: Case, request: Request) -> dict[str, Any]:
    case = context
    respond = _can(request, Perm.CASE_RESPOND, case)
    # Staff and oversight see internal notes and draft replies; the enterprise does not.
    internal = not respond or any(
        _can(request, p, case) for p in (Perm.CASE_HANDLE, Perm.CASE_DISPATCH, Perm.CASE_ASSIST)
    )
    moves = available(case, lambda p: _can(request, p, case))
    pending = _pending_extension(request, case)
    now = request.find_service(IClock).now()
    service = _service(request)
    return {
        "case": case,
        "internal": internal,
        "messages": [m for m in case.messages if internal or m.public],
        "steps": case.steps,
        "moves": moves,
        "state_labels": STATE_LABELS,
        "step_labels": STEP_LABELS,
        "kind_labels": KIND_LABELS,
        "rating_levels": RATING_LEVELS,
        "departments": departments(request),
        "pending_extension": pending,
        "can_decide_extension": bool(pending) and _can(request, Perm.CASE_DISPATCH, case),
        "can_extend": case.state in ("handling", "awaiting_info") and pending is None
        and _can(request, Perm.CASE_HANDLE, case),
        "can_merge": "merge" in {t.name for t in allowed_moves(case)}
        and _can(request, Perm.CASE_DISPATCH, case),
        "can_rate": respond and case.state in (CaseState.CLOSED, CaseState.VISITED)
        and not any(r.round == len(case.rectifications) + 1 for r in case.ratings),
        "can_answer": respond and case.state == CaseState.AWAITING_INFO,
        "can_note": _can(request, Perm.CASE_HANDLE, case)
        or _can(request, Perm.CASE_DISPATCH, case),
        "can_assist_note": _can(request, Perm.CASE_ASSIST, case),
        "can_upload": case.is_open and (respond or _can(request, Perm.CASE_HANDLE, case)),
        "rectification": service.open_rectification(case),
        "now": now,
        "when": when,
        "max_upload_mb": request.registry["qzt.complaints.policy"].max_upload >> 20,
        "accept": ",".join(f".{ext}" for ext in FORMATS),
    }  # fmt: skip


def _back(request: Request, case: Case) -> HTTPSeeOther:
    return HTTPSeeOther(request.route_url("cases.detail", id=case.id, _anchor="actions"))


def _refuse(request: Request, message: str) -> Response:
    response = render_to_response(
        "portal:templates/layout/error.jinja2",
        {"code": 403, "message": message},
        request=request,
    )
    response.status = 403
    return response


# The permission depends on the transition, known only from the form: the view is
# open to every signed-in user and checks the transition's own permission on the
# case's ACL, so a refusal can say what was refused (rating someone else's case).
@view_config(
    route_name="cases.transition", request_method="POST", permission=NO_PERMISSION_REQUIRED
)
def transition(context: Case, request: Request) -> Response:
    if request.authenticated_userid is None:
        return _refuse(request, N_("Please log in first."))
    name = request.POST.get("transition", "")
    step = BY_NAME.get(name)
    if step is None:
        request.session.flash(N_("This action is not possible in the case's state."), "error")
        return _back(request, context)
    if not _can(request, step.permission, context):
        return _refuse(request, REFUSED.get(name, N_("You may not do this on this case.")))
    params: dict[str, Any] = {"comment": request.POST.get("comment", "")}
    for key in ("department_id", "due_date", "level", "target_number"):
        if key in request.POST:
            params[key] = request.POST[key]
    if "assist_ids" in request.POST:
        params["assist_ids"] = request.POST.getall("assist_ids")
    savepoint = request.dbsession.begin_nested()
    try:
        _service(request).transition(request.dbsession, context, step.name, request.user, **params)
        request.dbsession.flush()
    except InputError as error:
        savepoint.rollback()
        request.session.flash(_translate(request, error), "error")
        return _back(request, context)
    savepoint.commit()
    request.session.flash(DONE_MESSAGES[step.name], "success")
    return _back(request, context)


@view_config(route_name="cases.note", request_method="POST", permission=Perm.CASE_VIEW)
def note(context: Case, request: Request) -> Response:
    if _can(request, Perm.CASE_HANDLE, context) or _can(request, Perm.CASE_DISPATCH, context):
        kind = "note"
    elif _can(request, Perm.CASE_ASSIST, context):
        kind = "assist"
    else:
        return _refuse(request, N_("You may not do this on this case."))
    savepoint = request.dbsession.begin_nested()
    try:
        _service(request).add_note(
            request.dbsession, context, request.user, request.POST.get("body", ""), kind
        )
    except InputError as error:
        savepoint.rollback()
        request.session.flash(_translate(request, error), "error")
        return _back(request, context)
    savepoint.commit()
    request.session.flash(N_("The note was added."), "success")
    return _back(request, context)


@view_config(
    route_name="cases.upload",
    request_method="POST",
    permission=Perm.CASE_VIEW,
    require_csrf=False,
)
def upload(context: Case, request: Request) -> Response:
    if not context.is_open or not (
        _can(request, Perm.CASE_RESPOND, context) or _can(request, Perm.CASE_HANDLE, context)
    ):
        return _refuse(request, N_("You may not add files to this case."))
    policy = request.registry["qzt.complaints.policy"]
    if _body_too_large(request, policy.max_upload):
        request.session.flash(
            _translate(request, InputError("files", N_("The file is larger than ${limit} MB."),
                                           limit=policy.max_upload >> 20)),
            "error",
        )  # fmt: skip
        return _back(request, context)
    _read_form(request)
    uploads = _uploads(request)[:1]
    if not uploads:
        request.session.flash(N_("Choose a file to upload."), "error")
        return _back(request, context)
    savepoint = request.dbsession.begin_nested()
    try:
        _service(request).add_upload(
            request.dbsession, context, uploads[0].filename, uploads[0].file, request.user
        )
    except InputError as error:
        savepoint.rollback()
        request.session.flash(_translate(request, error), "error")
        return _back(request, context)
    finally:
        uploads[0].file.close()
    savepoint.commit()
    request.session.flash(N_("The file was attached."), "success")
    return _back(request, context)


@view_config(route_name="cases.file", request_method="GET", permission=Perm.CASE_VIEW)
def download(context: Case, request: Request) -> FileResponse:
    found = request.case_attachment
    return stored_file(request, found.id, found.filename, found.media_type)
