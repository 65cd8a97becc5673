"""The only code that changes cases: intake, every workflow move, files, notes.

Each public method works in the caller's transaction and either completes or
raises :class:`~portal.complaints.interfaces.CaseError` before it has written
anything the caller would keep (views run it inside a savepoint). Every change
records a :class:`~portal.complaints.models.CaseStep`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.accounts.models import Enterprise, User
from portal.clock import IClock
from portal.complaints.interfaces import CASE_SOURCES, CASE_TYPES, CaseError, ICaseService
from portal.complaints.models import (
    Case,
    CaseAttachment,
    CaseCategory,
    CaseExtension,
    CaseMessage,
    CaseRating,
    CaseRectification,
    CaseReturn,
    CaseState,
    CaseStep,
    Decision,
    parse_number,
)
from portal.complaints.notify import Notifier
from portal.complaints.policy import CasePolicy
from portal.complaints.workflow import BY_NAME, Transition
from portal.content.files import FORMATS, IFileStorage, accept_upload, check_format, safe_filename
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_

TITLE_MAX = 200
TEXT_MAX = 5000
COMMENT_MAX = 2000
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
#: levels of 好差评, 5 best; 2 and below reopen the case for 整改
RATING_LEVELS = {
    5: N_("Very satisfied"),
    4: N_("Satisfied"),
    3: N_("Basically satisfied"),
    2: N_("Dissatisfied"),
    1: N_("Very dissatisfied"),
}
BAD_RATING = 2


def _text(value: Any, field: str, limit: int, required: bool = True) -> str:
    text = (value or "").strip() if isinstance(value, str | type(None)) else str(value).strip()
    if required and not text:
        raise CaseError(field, N_("This field is required."))
    if len(text) > limit:
        raise CaseError(field, N_("At most ${n} characters."), n=limit)
    return text


def _guess_extension(path: str) -> str:
    """The extension of a stored file from its content (for files handed over by key)."""
    for ext in FORMATS:
        try:
            check_format(f"file.{ext}", path)
        except InputError:
            continue
        return ext
    raise CaseError("attachments", N_("An attached file is not of an accepted type."))


@implementer(ICaseService)
class CaseService:
    def __init__(
        self,
        clock: IClock,
        storage: IFileStorage,
        notifier: Notifier,
        policy: CasePolicy,
    ) -> None:
        self.clock = clock
        self.storage = storage
        self.notifier = notifier
        self.policy = policy
        self.calendar = policy.calendar

    # -- lookups -------------------------------------------------------------------------
    def desk_department_id(self, session: Session) -> int | None:
        return session.scalar(select(Department.id).where(Department.code == self.policy.desk_code))

    def _department(self, session: Session, department_id: Any, field: str = "department") -> int:
        try:
            ident = int(department_id)
        except (TypeError, ValueError):
            raise CaseError(field, N_("Choose a department from the list.")) from None
        dept = session.get(Department, ident)
        if dept is None or not dept.is_active:
            raise CaseError(field, N_("Choose a department from the list."))
        return dept.id

    def category_by_code(self, session: Session, code: str) -> CaseCategory | None:
        return session.scalar(
            select(CaseCategory).where(CaseCategory.code == code, CaseCategory.is_active.is_(True))
        )

    def find_by_number(self, session: Session, number: str) -> Case | None:
        ident = parse_number(number)
        case = session.get(Case, ident) if ident is not None else None
        return case if case is not None and case.number == number.strip() else None

    # -- intake --------------------------------------------------------------------------
    def open_case(
        self,
        session: Session,
        *,
        kind: str,
        title: str,
        description: str,
        enterprise_id: int | None,
        opened_by_user_id: int | None,
        department_id: int | None,
        source: str = "web",
        source_ref: int | None = None,
        category: str | None = None,
        contact_email: str | None = None,
        attachment_ids: Sequence[str] = (),
        attachment_names: Mapping[str, str] | None = None,
        address: str = "",
        lat: float | None = None,
        long: float | None = None,
        contact_name: str = "",
        contact_phone: str = "",
    ) -> Case:
        if kind not in CASE_TYPES:
            raise CaseError("kind", N_("Choose the type of the case."))
        if source not in CASE_SOURCES:
            raise CaseError("source", N_("Unknown case source."))
        title = _text(title, "title", TITLE_MAX)
        description = _text(description, "description", TEXT_MAX)
        cat = None
        if category:
            cat = self.category_by_code(session, category)
            if cat is None:
                raise CaseError("category", N_("Choose a category from the list."))
        requested = None
        if department_id is not None:
            requested = self._department(session, department_id)
        user = session.get(User, opened_by_user_id) if opened_by_user_id else None
        enterprise = session.get(Enterprise, enterprise_id) if enterprise_id else None
        if enterprise_id and enterprise is None:
            raise CaseError("enterprise", N_("Unknown enterprise."))
        email = (contact_email or (user.email if user else "") or "").strip()
        if email and not EMAIL.match(email):
            raise CaseError("contact_email", N_("Enter a valid e-mail address."))
        keys = list(attachment_ids)
        if len(keys) > self.policy.max_attachments:
            raise CaseError(
                "attachments", N_("At most ${n} files per case."), n=self.policy.max_attachments
            )
        now = self.clock.now()
        case = Case(
            kind=kind,
            category_id=cat.id if cat else None,
            title=title,
            description=description,
            state=CaseState.ACCEPTED.value,
            source=source,
            source_ref=source_ref,
            enterprise_id=enterprise.id if enterprise else None,
            opened_by_id=user.id if user else None,
            contact_name=(
                contact_name.strip()[:50]
                or (enterprise.contact_person if enterprise else "")
                or (user.display_name if user else "")
            ),
            contact_email=email,
            contact_phone=(
                contact_phone.strip()[:30]
                or (enterprise.contact_phone if enterprise else "")
                or (user.phone if user else "")
            ),
            requested_department_id=requested,
            address=address.strip()[:200],
            lat=lat,
            long=long,
            received_at=now,
            updated_at=now,
        )
        code = cat.code if cat else None
        case.reply_due_at = self.calendar.due(now, self.policy.reply_limit(kind, code))
        case.close_due_at = self.calendar.due(now, self.policy.close_limit(kind, code))
        session.add(case)
        session.flush()
        self.record_step(
            session, case, "open", user, "", CaseState.ACCEPTED, data={"source": source}
        )
        for key in keys:
            self._adopt_file(session, case, key, (attachment_names or {}).get(key), user)
        target = requested or (cat.lead_department_id if cat else None)
        if self.policy.auto_dispatch and target is not None:
            if cat is not None:
                case.assists = [d for d in cat.assist_departments if d.id != target]
            action = "dispatch" if requested else "auto_dispatch"
            self._dispatch(session, case, target, None, action, "")
        self.notifier.acknowledge(session, case)
        return case

    def _adopt_file(
        self, session: Session, case: Case, key: str, name: str | None, actor: User | None
    ) -> CaseAttachment:
        try:
            path = self.storage.path(key)
            with open(path, "rb") as handle:
                new_key, size, digest = self.storage.save(handle, 1 << 40)
        except (ValueError, OSError):
            raise CaseError("attachments", N_("An attached file was not found.")) from None
        try:
            ext = _guess_extension(self.storage.path(new_key))
            filename = (
                safe_filename(name) if name else f"attachment-{len(case.attachments) + 1}.{ext}"
            )
            fmt = check_format(filename, self.storage.path(new_key))
        except InputError:
            self.storage.delete(new_key)
            raise
        return self._attachment_row(
            session, case, new_key, filename, fmt.media_type, size, digest, actor
        )

    def _attachment_row(
        self,
        session: Session,
        case: Case,
        key: str,
        filename: str,
        media_type: str,
        size: int,
        digest: str,
        actor: User | None,
    ) -> CaseAttachment:
        row = CaseAttachment(
            id=key,
            case_id=case.id,
            filename=filename,
            media_type=media_type,
            size=size,
            sha256=digest,
            uploaded_by_id=actor.id if actor else None,
            created_at=self.clock.now(),
        )
        session.add(row)
        session.flush()
        session.expire(case, ["attachments"])
        return row

    def add_upload(
        self, session: Session, case: Case, filename: str, stream: BinaryIO, actor: User | None
    ) -> CaseAttachment:
        """Store and check an upload; CaseError if refused, and then no file is kept."""
        if len(case.attachments) >= self.policy.max_attachments * 4:
            raise CaseError("attachments", N_("This case has too many files already."))
        try:
            upload = accept_upload(self.storage, filename, stream, self.policy.max_upload)
        except InputError as error:  # refused: nothing kept; shown beside the files field
            raise CaseError("attachments", error.message, **error.mapping) from None
        row = self._attachment_row(
            session, case, upload.key, upload.filename, upload.media_type, upload.size,
            upload.sha256, actor,
        )  # fmt: skip
        self.record_step(
            session, case, "attach", actor, case.state, case.state, data={"file": upload.filename}
        )
        return row

    # -- the audit trail --------------------------------------------------------------------
    def record_step(
        self,
        session: Session,
        case: Case,
        action: str,
        actor: User | None,
        from_state: str,
        to_state: str,
        comment: str = "",
        data: dict[str, Any] | None = None,
    ) -> CaseStep:
        step = CaseStep(
            case_id=case.id,
            action=action,
            from_state=str(from_state),
            to_state=str(to_state),
            actor_id=actor.id if actor else None,
            department_id=actor.department_id if actor else None,
            comment=comment,
            data=data or {},
            at=self.clock.now(),
        )
        session.add(step)
        session.flush()
        session.expire(case, ["steps"])
        return step

    def add_note(
        self, session: Session, case: Case, actor: User, body: str, kind: str = "note"
    ) -> CaseMessage:
        """A note by the handling department, or (``assist``) a co-handling opinion."""
        body = _text(body, "body", TEXT_MAX)
        message = self._message(session, case, kind, body, actor, public=False)
        self.record_step(session, case, "assist_note" if kind == "assist" else "note", actor,
                   case.state, case.state, body[:200])  # fmt: skip
        return message

    def _message(
        self, session: Session, case: Case, kind: str, body: str, actor: User | None, public: bool
    ) -> CaseMessage:
        message = CaseMessage(
            case_id=case.id,
            kind=kind,
            body=body,
            author_id=actor.id if actor else None,
            department_id=actor.department_id if actor else None,
            public=public,
            created_at=self.clock.now(),
        )
        session.add(message)
        session.flush()
        session.expire(case, ["messages"])
        return message

    # -- the workflow ---------------------------------------------------------------------
    def transition(
        self, session: Session, case: Case, name: str, actor: User | None, **params: Any
    ) -> CaseStep:
        step = BY_NAME.get(name)
        if step is None or case.state not in step.sources:
            raise CaseError("transition", N_("This action is not possible in the case's state."))
        comment = _text(params.pop("comment", ""), "comment", COMMENT_MAX, step.needs_comment)
        handler: Callable[..., dict[str, Any] | None] = getattr(self, f"_do_{name}")
        before = case.state
        data = handler(session, case, step, actor, comment, **params) or {}
        if step.target is not None and case.state == before:
            case.state = step.target.value
        case.updated_at = self.clock.now()
        follow = data.pop("_then", None)
        record = self.record_step(session, case, name, actor, before, case.state, comment, data)
        if follow:
            follow()
        return record

    def _dispatch(
        self,
        session: Session,
        case: Case,
        department_id: int,
        actor: User | None,
        action: str,
        comment: str,
    ) -> None:
        before = case.state
        now = self.clock.now()
        case.department_id = department_id
        if case.owner_department_id is None:
            case.owner_department_id = department_id  # 首问: the first department contacted
        case.dispatched_at = now
        case.signed_at = None
        case.sign_due_at = self.calendar.due(now, self.policy.sign_limit)
        case.state = CaseState.DISPATCHED.value
        case.updated_at = now
        if action == "auto_dispatch":
            self.record_step(session, case, action, None, before, case.state, comment,
                       {"department_id": department_id})  # fmt: skip
        self.notifier.dispatched(session, case)

    def _do_dispatch(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        department_id: Any = None, assist_ids: Sequence[Any] = (),
    ) -> dict[str, Any]:  # fmt: skip
        dept = self._department(session, department_id)
        self._set_assists(session, case, dept, assist_ids)
        self._dispatch(session, case, dept, actor, "dispatch", comment)
        return {"department_id": dept}

    def _set_assists(
        self, session: Session, case: Case, lead: int, assist_ids: Sequence[Any]
    ) -> None:
        ids = {self._department(session, a, "assists") for a in assist_ids if str(a).strip()}
        ids.discard(lead)
        if ids:
            case.assists = [session.get(Department, i) for i in sorted(ids)]  # type: ignore[misc]

    def _do_redispatch(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        department_id: Any = None, assist_ids: Sequence[Any] = (),
    ) -> dict[str, Any]:  # fmt: skip
        dept = self._department(session, department_id)
        if dept == case.department_id:
            raise CaseError("department", N_("The case is already with this department."))
        previous = case.department_id
        self._set_assists(session, case, dept, assist_ids)
        self._dispatch(session, case, dept, actor, "redispatch", comment)
        if case.paused_at is not None:
            self._resume(case)
        return {"department_id": dept, "previous_department_id": previous}

    def _do_sign(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        case.signed_at = self.clock.now()
        # 首问负责 ends here: the department that signs now answers for the case.
        case.owner_department_id = case.department_id
        return {"on_time": bool(case.sign_due_at and case.signed_at <= case.sign_due_at)}

    def _do_return(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        if session.scalar(
            select(CaseReturn.id).where(
                CaseReturn.case_id == case.id, CaseReturn.decision == Decision.PENDING.value
            )
        ):
            raise CaseError("transition", N_("A return of this case is already under review."))
        session.add(
            CaseReturn(
                case_id=case.id,
                department_id=case.department_id,
                reason=comment,
                requested_by_id=actor.id if actor else None,
                requested_at=self.clock.now(),
            )
        )
        case.return_count += 1
        if case.paused_at is not None:
            self._resume(case)
        desk = self.desk_department_id(session)
        self.notifier.to_desk(
            session, case, desk,
            self.notifier.gettext(
                "Case ${number} was returned and needs review", number=case.number
            ),
        )  # fmt: skip
        return {"department_id": case.department_id}

    def _pending_return(self, session: Session, case: Case) -> CaseReturn:
        found = session.scalar(
            select(CaseReturn)
            .where(CaseReturn.case_id == case.id, CaseReturn.decision == Decision.PENDING.value)
            .order_by(CaseReturn.id.desc())
        )
        if found is None:  # pragma: no cover - RETURNED always has one
            raise CaseError("transition", N_("There is no return to review."))
        return found

    def _decide(self, row: CaseReturn | CaseExtension, decision: Decision, actor: User | None,
                note: str) -> None:  # fmt: skip
        row.decision = decision.value
        row.decided_by_id = actor.id if actor else None
        row.decided_at = self.clock.now()
        row.decision_note = note

    def _do_approve_return(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        department_id: Any = None,
    ) -> dict[str, Any]:  # fmt: skip
        ret = self._pending_return(session, case)
        self._decide(ret, Decision.APPROVED, actor, comment)
        case.department_id = None
        case.state = CaseState.ACCEPTED.value
        data: dict[str, Any] = {"department_id": ret.department_id}
        if department_id not in (None, ""):
            target = self._department(session, department_id)
            # Re-dispatch right away, recorded as its own step after this one.
            data["_then"] = lambda: self.transition(
                session, case, "dispatch", actor, department_id=target
            )
        return data

    def _do_reject_return(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        ret = self._pending_return(session, case)
        self._decide(ret, Decision.REJECTED, actor, comment)
        if ret.department_id is None:  # the department was dissolved meanwhile
            raise CaseError(
                "transition", N_("The department no longer exists: re-dispatch instead.")
            )
        # Back to the same department, which must sign again (an improper return).
        self._dispatch(session, case, ret.department_id, actor, "reject_return", comment)
        self.notifier.to_department(
            session, case, case.department_id,
            self.notifier.gettext("The return of case ${number} was refused", number=case.number),
            [comment],
        )  # fmt: skip
        return {"department_id": ret.department_id}

    def _do_request_info(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> None:
        self._message(session, case, "question", comment, actor, public=True)
        case.paused_at = self.clock.now()
        self.notifier.info_requested(session, case, comment)

    def _resume(self, case: Case) -> None:
        """End a 补充材料 pause: open clocks move back by the working time it lasted."""
        start, end = case.paused_at, self.clock.now()
        if start is None:
            return
        code = case.category.code if case.category else None
        if case.first_reply_at is None and case.reply_due_at is not None:
            unit = self.policy.reply_limit(case.kind, code).unit
            case.reply_due_at = self.calendar.paused(case.reply_due_at, unit, start, end)
        if case.closed_at is None and case.close_due_at is not None:
            unit = self.policy.close_limit(case.kind, code).unit
            case.close_due_at = self.calendar.paused(case.close_due_at, unit, start, end)
        case.paused_at = None

    def _do_provide_info(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        self._message(session, case, "answer", comment, actor, public=True)
        paused = case.paused_at
        self._resume(case)
        self.notifier.to_department(
            session, case, case.department_id,
            self.notifier.gettext("Case ${number}: the enterprise answered", number=case.number),
            [comment],
        )  # fmt: skip
        return {"paused_since": paused.isoformat() if paused else None}

    def _pending_extension(self, session: Session, case: Case) -> CaseExtension | None:
        return session.scalar(
            select(CaseExtension).where(
                CaseExtension.case_id == case.id, CaseExtension.decision == Decision.PENDING.value
            )
        )

    def _do_request_extension(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        due_date: Any = None,
    ) -> dict[str, Any]:  # fmt: skip
        now = self.clock.now()
        if case.close_due_at is None or now >= case.close_due_at:
            raise CaseError("due_date", N_("An extension must be asked for before the deadline."))
        if self._pending_extension(session, case) is not None:
            raise CaseError(
                "due_date", N_("An extension of this case is already waiting for a decision.")
            )
        new_day = _parse_date(due_date)
        if new_day <= self.calendar.last_day(case.close_due_at):
            raise CaseError("due_date", N_("The new date must be after the current deadline."))
        session.add(
            CaseExtension(
                case_id=case.id,
                department_id=case.department_id,
                reason=comment,
                previous_due_at=case.close_due_at,
                requested_due_at=self.calendar.end_of(new_day),
                requested_by_id=actor.id if actor else None,
                requested_at=now,
            )
        )
        self.notifier.to_desk(
            session, case, self.desk_department_id(session),
            self.notifier.gettext("Case ${number}: an extension is asked for", number=case.number),
        )  # fmt: skip
        return {"due_date": new_day.isoformat()}

    def _do_approve_extension(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        ext = self._pending_extension(session, case)
        if ext is None:
            raise CaseError("transition", N_("There is no extension waiting for a decision."))
        self._decide(ext, Decision.APPROVED, actor, comment)
        case.close_due_at = ext.requested_due_at
        case.extension_count += 1
        self.notifier.extension_approved(session, case, ext.reason)
        return {"close_due_at": ext.requested_due_at.isoformat()}

    def _do_reject_extension(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> None:
        ext = self._pending_extension(session, case)
        if ext is None:
            raise CaseError("transition", N_("There is no extension waiting for a decision."))
        self._decide(ext, Decision.REJECTED, actor, comment)
        self.notifier.to_department(
            session, case, case.department_id,
            self.notifier.gettext("Case ${number}: the extension was refused", number=case.number),
            [comment],
        )  # fmt: skip

    def _do_submit_reply(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> None:
        self._message(session, case, "reply", comment, actor, public=False)

    def _draft_reply(self, session: Session, case: Case) -> CaseMessage:
        found = session.scalar(
            select(CaseMessage)
            .where(
                CaseMessage.case_id == case.id,
                CaseMessage.kind == "reply",
                CaseMessage.approved_at.is_(None),
            )
            .order_by(CaseMessage.id.desc())
        )
        if found is None:  # pragma: no cover - REPLY_REVIEW always has one
            raise CaseError("transition", N_("There is no reply to sign off."))
        return found

    def _do_approve_reply(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        reply = self._draft_reply(session, case)
        now = self.clock.now()
        reply.public = True
        reply.approved_by_id = actor.id if actor else None
        reply.approved_at = now
        if case.first_reply_at is None:
            case.first_reply_at = now
        self.notifier.reply_sent(session, case, reply.body)
        return {"message_id": reply.id}

    def _do_reject_reply(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        reply = self._draft_reply(session, case)
        reply.kind = "reply_rejected"
        return {"message_id": reply.id}

    def _do_close(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        now = self.clock.now()
        if case.closed_at is None:
            case.closed_at = now
            case.handling_seconds = int((now - case.received_at).total_seconds())
        self.notifier.closed(session, case)
        return {"on_time": bool(case.close_due_at and case.closed_at <= case.close_due_at)}

    def _do_visit(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> None:
        self._message(session, case, "visit", comment, actor, public=False)

    def _do_rate(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        level: Any = None,
    ) -> dict[str, Any]:  # fmt: skip
        try:
            value = int(level)
        except (TypeError, ValueError):
            value = 0
        if value not in RATING_LEVELS:
            raise CaseError("level", N_("Choose one of the five levels."))
        round_ = len(case.rectifications) + 1
        if any(r.round == round_ for r in case.ratings):
            raise CaseError("level", N_("This case has been rated already."))
        now = self.clock.now()
        rating = CaseRating(
            case_id=case.id, round=round_, level=value, comment=comment,
            user_id=actor.id if actor else None, department_id=case.department_id, rated_at=now,
        )  # fmt: skip
        session.add(rating)
        session.flush()
        session.expire(case, ["ratings"])
        case.rating = value
        data: dict[str, Any] = {"level": value, "round": round_}
        if value <= BAD_RATING:
            data["_then"] = lambda: self.transition(
                session, case, "reopen", None, rating_id=rating.id
            )
        return data

    def _do_reopen(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        rating_id: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        if rating_id is None:
            raise CaseError("transition", N_("A case is reopened only by a bad rating."))
        now = self.clock.now()
        rect = CaseRectification(
            case_id=case.id, rating_id=rating_id, department_id=case.department_id, opened_at=now,
            due_at=self.calendar.due(now, self.policy.rectify_limit),
        )  # fmt: skip
        session.add(rect)
        session.flush()
        session.expire(case, ["rectifications"])
        self.notifier.to_department(
            session, case, case.department_id,
            self.notifier.gettext("Case ${number} was rated badly and reopened for rectification",
                            number=case.number),
            [self.notifier.gettext("Rectify by: ${due}", due=_when(rect.due_at))],
        )  # fmt: skip
        return {"rectify_due_at": rect.due_at.isoformat()}

    def open_rectification(self, case: Case) -> CaseRectification | None:
        return next((r for r in reversed(case.rectifications) if r.closed_at is None), None)

    def _do_record_followup(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> None:
        rect = self.open_rectification(case)
        if rect is None:  # pragma: no cover - RECTIFYING always has one
            raise CaseError("transition", N_("There is no open rectification."))
        rect.followup_note = comment
        rect.followup_at = self.clock.now()
        rect.followup_by_id = actor.id if actor else None
        self._message(session, case, "followup", comment, actor, public=False)

    def _do_close_rectification(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str
    ) -> dict[str, Any]:
        rect = self.open_rectification(case)
        if rect is None or rect.followup_at is None:
            raise CaseError(
                "transition",
                N_("Record the follow-up with the enterprise before closing the rectification."),
            )
        rect.closed_at = self.clock.now()
        self.notifier.closed(session, case)
        return {"on_time": rect.closed_at <= rect.due_at}

    def _do_merge(
        self, session: Session, case: Case, step: Transition, actor: User | None, comment: str,
        target_number: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        target = self.find_by_number(session, target_number or "")
        if target is None:
            raise CaseError("target_number", N_("No case has this number."))
        if target.id == case.id or target.state == CaseState.MERGED:
            raise CaseError(
                "target_number", N_("Merge into another case that is not merged itself.")
            )
        case.merged_into_id = target.id
        case.paused_at = None
        self.record_step(session, target, "note", actor, target.state, target.state,
                   f"并单: {case.number}", {"merged_case_id": case.id})  # fmt: skip
        self.notifier.to_enterprise(
            session, case,
            self.notifier.gettext("Case ${number} was merged into case ${target}",
                                  number=case.number,
                            target=target.number),
            [comment],
        )  # fmt: skip
        return {"merged_into": target.id}

    def add_assist(self, session: Session, case: Case, department_id: Any, actor: User) -> None:
        dept = self._department(session, department_id, "assists")
        if dept == case.department_id or any(d.id == dept for d in case.assists):
            raise CaseError("assists", N_("This department already works on the case."))
        case.assists.append(session.get(Department, dept))  # type: ignore[arg-type]
        self.record_step(session, case, "add_assist", actor, case.state, case.state,
                   data={"department_id": dept})  # fmt: skip


def _when(dt: datetime) -> str:
    from portal.complaints.notify import when

    return when(dt)


def _parse_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise CaseError("due_date", N_("Enter a date as YYYY-MM-DD, e.g. 2026-03-02.")) from None
