"""What other domains need from complaints: opening a case.

Chat (a 留言 left while a department is offline, or a conversation staff turn into
a case) and meetings (a case opened from the minutes) call ``open_case``; the case
then follows the complaints workflow like one filed through the form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session
from zope.interface import Interface

from portal.errors import InputError

#: where a case came from; ``source_ref`` is the id of the originating object
CASE_SOURCES = ("web", "message", "chat", "meeting", "open311")
#: the five case types of the 12345 rules
CASE_TYPES = ("consult", "help", "complaint", "report", "suggestion")


class ICaseService(Interface):
    def open_case(
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
    ) -> Any:
        """Create a case in 受理 (accepted) with its number and deadlines, record the
        audit step, and queue the acknowledgement email, all in the caller's
        transaction. ``department_id`` None sends it to the dispatch desk (不确定).
        Returns the case model (``.id``, ``.number``).

        With a department (or a category whose catalogue line names one) and
        ``qzt.complaints.auto_dispatch`` on, the case is dispatched at once and the
        returned case is already in 派单 (``dispatched``).

        ``attachment_ids`` are ``IFileStorage`` keys of files the caller already
        stored and checked (a chat upload); the case keeps its own copy, named by
        ``attachment_names[key]`` when given. Raises ``CaseError`` (an InputError
        naming the field) on bad input, and then nothing is kept."""

    def transition(session: Session, case: Any, name: str, actor: Any, **params: Any) -> Any:
        """Move ``case`` along the workflow transition ``name`` (see
        ``portal.complaints.workflow``); the caller checked the permission. Returns
        the audit step. ``CaseError`` if the state or the input does not allow it."""


class CaseError(InputError):
    """A case change the user can fix: wrong state, missing reason, bad file, …"""
