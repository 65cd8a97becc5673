"""Permission names: ``scope:resource:action``. Views and ACLs use these, never literals."""

from enum import StrEnum


class Permission(StrEnum):
    VIEW = "site:page:view"

    CONTENT_VIEW = "content:item:view"
    CONTENT_CREATE = "content:item:create"
    CONTENT_EDIT = "content:item:edit"
    CONTENT_SUBMIT = "content:item:submit"
    CONTENT_REVIEW = "content:item:review"
    CONTENT_ARCHIVE = "content:item:archive"
    CONTENT_HISTORY = "content:item:history"
    CONTENT_DASHBOARD = "content:dashboard:view"

    ATTACHMENT_DOWNLOAD = "content:attachment:download"

    ACCOUNT_SELF = "account:profile:edit"
    ENTERPRISE_MANAGE = "account:enterprise:manage"

    OVERSIGHT_READ = "oversight:all:read"

    ADMIN_USERS = "admin:users:manage"
    ADMIN_DEPARTMENTS = "admin:departments:manage"
    ADMIN_LEADERS = "admin:leaders:manage"
    ADMIN_LINKS = "admin:links:manage"
