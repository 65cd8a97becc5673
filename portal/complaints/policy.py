"""The rules a deployment sets for cases: time limits per type and category, the
reminder and escalation ladder, the dispatch desk. Parsed once from settings, so a
bad value stops the portal at start-up rather than at the first case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.complaints.deadlines import Limit, WorkCalendar, parse_limit, parse_limits
from portal.complaints.models import CaseKind

DEFAULT_CLOSE = {
    CaseKind.CONSULT: "2d",
    CaseKind.HELP: "10d",
    CaseKind.SUGGESTION: "10d",
    CaseKind.COMPLAINT: "15d",
    CaseKind.REPORT: "15d",
}


FOUR_HOURS, ONE_HOUR = Limit(4, "h"), Limit(1, "h")
ONE_DAY, FIVE_DAYS, TEN_DAYS = Limit(1, "d"), Limit(5, "d"), Limit(10, "d")


@dataclass(frozen=True)
class CasePolicy:
    close_limits: dict[str, Limit] = field(
        default_factory=lambda: {k.value: parse_limit(v) for k, v in DEFAULT_CLOSE.items()}
    )
    reply_limits: dict[str, Limit] = field(default_factory=dict)
    category_limits: dict[str, Limit] = field(default_factory=dict)
    sign_limit: Limit = FOUR_HOURS
    warn_days: Limit = ONE_DAY
    warn_hours: Limit = ONE_HOUR
    supervise_after: Limit = FIVE_DAYS
    rectify_limit: Limit = TEN_DAYS
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    desk_code: str = "zsj"
    auto_dispatch: bool = True
    max_attachments: int = 5
    max_upload: int = 20 * 1024 * 1024
    public_url: str = "http://127.0.0.1:6543"

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> CasePolicy:
        close = parse_limits(settings["qzt.complaints.close_limits"])
        missing = {k.value for k in CaseKind} - set(close)
        if missing:
            raise ValueError(f"qzt.complaints.close_limits lacks {sorted(missing)}")
        return cls(
            close_limits=close,
            reply_limits=parse_limits(settings["qzt.complaints.reply_limits"]),
            category_limits=parse_limits(settings["qzt.complaints.category_limits"]),
            sign_limit=parse_limit(settings["qzt.complaints.sign_limit"]),
            warn_days=parse_limit(settings["qzt.complaints.warn_before"]),
            warn_hours=parse_limit(settings["qzt.complaints.warn_before_hours"]),
            supervise_after=parse_limit(settings["qzt.complaints.supervise_after"]),
            rectify_limit=parse_limit(settings["qzt.complaints.rectify_limit"]),
            calendar=WorkCalendar.from_settings(settings),
            desk_code=settings["qzt.complaints.desk_department"],
            auto_dispatch=bool(settings["qzt.complaints.auto_dispatch"]),
            max_attachments=int(settings["qzt.complaints.max_attachments"]),
            max_upload=int(settings["qzt.upload.max_bytes"]),
            public_url=str(settings["qzt.public_url"]).rstrip("/"),
        )

    def close_limit(self, kind: str, category_code: str | None) -> Limit:
        if category_code and category_code in self.category_limits:
            return self.category_limits[category_code]
        return self.close_limits[kind]

    def reply_limit(self, kind: str, category_code: str | None) -> Limit:
        """The first-reply limit: the type's own, never later than closure."""
        close = self.close_limit(kind, category_code)
        reply = self.reply_limits.get(kind)
        if reply is None or (reply.unit == close.unit and reply.amount > close.amount):
            return close
        return reply

    def warn_before(self, limit: Limit) -> Limit:
        return self.warn_days if limit.unit == "d" else self.warn_hours

    def case_url(self, case_id: int) -> str:
        return f"{self.public_url}/cases/{case_id}"
