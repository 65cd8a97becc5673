"""Every mapped class, imported once so the metadata (Alembic, tests) sees all tables."""

from portal.accounts.models import Enterprise, User, UserRole
from portal.content.models import (
    Attachment,
    ContentIndustry,
    ContentItem,
    Revision,
    WorkflowEvent,
)
from portal.departments.models import Department, Leader, leader_departments
from portal.links.models import FriendLink
from portal.pagecache import PageGeneration
from portal.searching.models import SearchOutbox
from portal.sessions import WebSession

__all__ = [
    "Attachment",
    "ContentIndustry",
    "ContentItem",
    "Department",
    "Enterprise",
    "FriendLink",
    "Leader",
    "PageGeneration",
    "Revision",
    "SearchOutbox",
    "User",
    "UserRole",
    "WebSession",
    "WorkflowEvent",
    "leader_departments",
]
