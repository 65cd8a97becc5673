"""Every mapped class, imported once so the metadata (Alembic, tests) sees all tables."""

from portal.accounts.models import Enterprise, User, UserRole
from portal.chat.models import (
    CannedReply,
    ChatAttachment,
    ChatMessage,
    Conversation,
    StaffPresence,
    Transfer,
)
from portal.complaints.models import (
    Case,
    CaseAlert,
    CaseAttachment,
    CaseCategory,
    CaseExtension,
    CaseMessage,
    CaseRating,
    CaseRectification,
    CaseReturn,
    CaseStep,
    case_assists,
    category_assists,
)
from portal.content.models import (
    Attachment,
    ContentIndustry,
    ContentItem,
    Revision,
    WorkflowEvent,
)
from portal.departments.models import Department, Leader, leader_departments
from portal.digests.models import DigestRun, LeaderDeputy
from portal.links.models import FriendLink
from portal.mail.models import OutboxMail
from portal.meetings.attendance import MeetingAdmission, MeetingAttendance, MeetingInvite
from portal.meetings.minutes import Minutes
from portal.meetings.models import (
    AvailabilityOverride,
    Booking,
    BookingEvent,
    BookingMaterial,
    SlotRules,
    WeeklyAvailability,
)
from portal.meetings.recording import (
    Recording,
    RecordingAccess,
    RecordingConsent,
    RecordingFile,
)
from portal.pagecache import PageGeneration
from portal.searching.models import SearchOutbox
from portal.sessions import WebSession

__all__ = [
    "Attachment",
    "AvailabilityOverride",
    "Booking",
    "BookingEvent",
    "BookingMaterial",
    "CannedReply",
    "Case",
    "CaseAlert",
    "CaseAttachment",
    "CaseCategory",
    "CaseExtension",
    "CaseMessage",
    "CaseRating",
    "CaseRectification",
    "CaseReturn",
    "CaseStep",
    "ChatAttachment",
    "ChatMessage",
    "ContentIndustry",
    "ContentItem",
    "Conversation",
    "Department",
    "DigestRun",
    "Enterprise",
    "FriendLink",
    "Leader",
    "LeaderDeputy",
    "MeetingAdmission",
    "MeetingAttendance",
    "MeetingInvite",
    "Minutes",
    "OutboxMail",
    "PageGeneration",
    "Recording",
    "RecordingAccess",
    "RecordingConsent",
    "RecordingFile",
    "Revision",
    "SearchOutbox",
    "SlotRules",
    "StaffPresence",
    "Transfer",
    "User",
    "UserRole",
    "WebSession",
    "WeeklyAvailability",
    "WorkflowEvent",
    "case_assists",
    "category_assists",
    "leader_departments",
]
