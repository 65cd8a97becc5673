"""The mail a case sends: acknowledgement, notices to the department, the
enterprise's updates, 催办 / 超期 / 督办 alerts. Queued through ``IMailer`` in the
caller's transaction: a step that rolls back sends nothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pyramid.i18n import Localizer, make_localizer
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User, UserRole
from portal.clock import local
from portal.complaints.models import Case
from portal.complaints.policy import CasePolicy
from portal.departments.models import Department, Leader, leader_departments
from portal.i18n import N_, _
from portal.mail.interfaces import IMailer
from portal.roles import Role

LOCALE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "locale")

KIND_LABELS = {
    "consult": N_("Consultation"),
    "help": N_("Request for help"),
    "complaint": N_("Complaint"),
    "report": N_("Report"),
    "suggestion": N_("Suggestion"),
}

CLOCK_LABELS = {
    "sign": N_("signing for the case"),
    "reply": N_("the first reply"),
    "close": N_("closing the case"),
    "rectify": N_("the rectification"),
}


@lru_cache(maxsize=8)
def make_translator(locale: str) -> Callable[..., str]:
    localizer: Localizer = make_localizer(locale, [LOCALE_DIR])

    def translate(msgid: str, **mapping: Any) -> str:
        return str(localizer.translate(_(msgid, mapping=mapping)))

    return translate


def when(dt: datetime | None) -> str:
    """A moment as people read it, Beijing time; an end-of-day deadline reads
    "2026-03-04 24:00" rather than "2026-03-05 00:00"."""
    if dt is None:
        return ""
    shown = local(dt)
    if (shown.hour, shown.minute, shown.second) == (0, 0, 0):
        return f"{shown - timedelta(days=1):%Y-%m-%d} 24:00"
    return f"{shown:%Y-%m-%d %H:%M}"


def department_emails(
    session: Session, department_id: int | None, roles: Iterable[Role] = (Role.HEAD, Role.STAFF)
) -> list[str]:
    if department_id is None:
        return []
    rows = session.scalars(
        select(User.email)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.department_id == department_id,
            User.is_active.is_(True),
            User.email.is_not(None),
            UserRole.role.in_([r.value for r in roles]),
        )
        .distinct()
        .order_by(User.email)
    )
    return [e for e in rows if e]


def leader_emails(session: Session, department_id: int | None) -> list[str]:
    """The 分管领导 of a department (their own address, else their account's)."""
    if department_id is None:
        return []
    rows = session.execute(
        select(Leader.email, User.email)
        .join(leader_departments, leader_departments.c.leader_id == Leader.id)
        .outerjoin(User, User.id == Leader.user_id)
        .where(leader_departments.c.department_id == department_id)
    )
    return sorted({str(own or account) for own, account in rows if own or account})


class Notifier:
    def __init__(self, mailer: IMailer, policy: CasePolicy, translate: Callable[..., str]) -> None:
        self.mailer = mailer
        self.policy = policy
        self.gettext = translate

    def _send(
        self,
        session: Session,
        to: list[str],
        subject: str,
        lines: list[str],
        case: Case,
        kind: str,
        dedupe_key: str | None = None,
    ) -> int | None:
        text = "\n".join(
            [*lines, "", self.gettext("Case page: ${url}", url=self.policy.case_url(case.id))]
        )
        return self.mailer.queue(
            session,
            to=to,
            subject=subject,
            text=text,
            kind=kind,
            dedupe_key=dedupe_key,
        )

    def _dept_name(self, session: Session, department_id: int | None) -> str:
        dept = session.get(Department, department_id) if department_id else None
        return dept.name if dept else self.gettext("the dispatch desk")

    # -- to the enterprise ------------------------------------------------------------------
    def acknowledge(self, session: Session, case: Case) -> None:
        subject = self.gettext("Your case ${number} has been received", number=case.number)
        lines = [
            self.gettext("We have received your case and will handle it."),
            self.gettext("Case number: ${number}", number=case.number),
            self.gettext("Type: ${kind}", kind=self.gettext(KIND_LABELS[case.kind])),
            self.gettext("Subject: ${title}", title=case.title),
            self.gettext("Handled by: ${dept}", dept=self._dept_name(session, case.department_id)),
            self.gettext("To be closed by: ${due}", due=when(case.close_due_at)),
        ]
        self._send(
            session, [case.contact_email], subject, lines, case, "case.ack", f"case-ack:{case.id}"
        )

    def to_enterprise(self, session: Session, case: Case, subject: str, lines: list[str]) -> None:
        self._send(session, [case.contact_email], subject, lines, case, "case.update")

    def info_requested(self, session: Session, case: Case, question: str) -> None:
        self.to_enterprise(
            session,
            case,
            self.gettext("Case ${number}: more information needed", number=case.number),
            [
                self.gettext("The department handling your case asks for more information:"),
                question,
                self.gettext("The time limit is paused until you answer on the case page."),
            ],
        )

    def reply_sent(self, session: Session, case: Case, reply: str) -> None:
        self.to_enterprise(
            session,
            case,
            self.gettext("Case ${number}: reply from ${dept}", number=case.number,
                   dept=self._dept_name(session, case.department_id)),
            [reply],
        )  # fmt: skip

    def extension_approved(self, session: Session, case: Case, reason: str) -> None:
        self.to_enterprise(
            session,
            case,
            self.gettext("Case ${number}: time limit extended", number=case.number),
            [
                self.gettext("The time limit of your case was extended to ${due}.",
                       due=when(case.close_due_at)),
                self.gettext("Reason: ${reason}", reason=reason),
            ],
        )  # fmt: skip

    def closed(self, session: Session, case: Case) -> None:
        self.to_enterprise(
            session,
            case,
            self.gettext("Case ${number} is closed: please rate it", number=case.number),
            [
                self.gettext("Your case has been closed. Please rate how it was handled "
                       "on the case page (five levels, from very satisfied to very dissatisfied)."),
            ],
        )  # fmt: skip

    # -- to departments ---------------------------------------------------------------------
    def dispatched(self, session: Session, case: Case) -> None:
        to = department_emails(session, case.department_id)
        self._send(
            session,
            to,
            self.gettext("New case ${number} for your department", number=case.number),
            [
                self.gettext("Subject: ${title}", title=case.title),
                self.gettext("Type: ${kind}", kind=self.gettext(KIND_LABELS[case.kind])),
                self.gettext("Sign for it by: ${due}", due=when(case.sign_due_at)),
                self.gettext("To be closed by: ${due}", due=when(case.close_due_at)),
            ],
            case,
            "case.dispatch",
        )

    def to_department(
        self,
        session: Session,
        case: Case,
        department_id: int | None,
        subject: str,
        lines: list[str],
    ) -> None:
        self._send(
            session, department_emails(session, department_id), subject, lines, case, "case.notice"
        )

    def to_desk(self, session: Session, case: Case, desk_id: int | None, subject: str) -> None:
        self._send(
            session,
            department_emails(session, desk_id),
            subject,
            [self.gettext("Subject: ${title}", title=case.title)],
            case,
            "case.desk",
        )

    def alert(
        self,
        session: Session,
        case: Case,
        clock: str,
        level: str,
        due: datetime,
        department_id: int | None,
        desk_id: int | None,
    ) -> None:
        """催办 to the department; on breach also the 分管领导; on 督办 also the desk."""
        to = department_emails(session, department_id)
        if level in ("breach", "supervise"):
            to += leader_emails(session, department_id)
        if level == "supervise":
            to += department_emails(session, desk_id, (Role.HEAD,))
        what = self.gettext(CLOCK_LABELS[clock])
        subjects = {
            "warning": N_("Reminder: case ${number} is due for ${what} by ${due}"),
            "breach": N_("Overdue notice: case ${number} missed the deadline for ${what}"),
            "supervise": N_("Supervision (督办): case ${number} is still overdue for ${what}"),
        }
        mapping = {"number": case.number, "what": what, "due": when(due)}
        subject = self.gettext(subjects[level], **mapping)
        lines = [
            subject,
            self.gettext("Department: ${dept}", dept=self._dept_name(session, department_id)),
            self.gettext("Subject: ${title}", title=case.title),
            self.gettext("Deadline: ${due}", due=when(due)),
        ]
        key = f"case-alert:{case.id}:{clock}:{level}:{due.isoformat()}"
        self._send(session, sorted(set(to)), subject, lines, case, f"case.{level}", key)
