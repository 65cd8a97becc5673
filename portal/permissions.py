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

    CASE_CREATE = "complaints:case:create"
    CASE_LIST = "complaints:cases:list"
    CASE_VIEW = "complaints:case:view"
    CASE_HANDLE = "complaints:case:handle"
    CASE_APPROVE = "complaints:case:approve"
    CASE_ASSIST = "complaints:case:assist"
    CASE_DISPATCH = "complaints:case:dispatch"
    CASE_RESPOND = "complaints:case:respond"
    CASE_STATS = "complaints:stats:view"
    CASE_CATALOGUE = "complaints:catalogue:manage"

    CHAT_START = "chat:conversation:start"  # an enterprise opens a chat or leaves a 留言
    CHAT_VIEW = "chat:conversation:view"  # read a conversation (parties, oversight)
    CHAT_RATE = "chat:conversation:rate"  # the enterprise rates a closed conversation
    CHAT_POST = "chat:conversation:post"  # upload an attachment into an open conversation
    CHAT_HANDLE = "chat:conversation:handle"  # staff: close, turn into a case
    CHAT_CONSOLE = "chat:console:use"  # the staff console
    CHAT_CANNED = "chat:canned:manage"  # a department's canned replies
    CHAT_REPORTS = "chat:reports:view"
    CHAT_OVERSIGHT = "chat:oversight:view"  # leaders and supervisors read conversations

    MEETING_BOOK = "meetings:booking:create"  # an enterprise asks for a slot
    MEETING_VIEW = "meetings:booking:view"
    MEETING_MANAGE = "meetings:booking:manage"  # confirm, decline, complete, no-show
    MEETING_CHANGE = "meetings:booking:change"  # reschedule, cancel (either side)
    MEETING_JOIN = "meetings:room:join"  # open the meeting page of a booking
    MEETING_AVAILABILITY = "meetings:availability:edit"  # heads, staff for their head
    MEETING_MINUTES_WRITE = "meetings:minutes:write"  # the head, after the meeting
    MEETING_RECORDING_PLAY = "meetings:recording:play"  # supervisors (监察) of their scope
    MEETING_RECORDINGS = "meetings:recording:list"  # the supervisors' recordings page

    ADMIN_USERS = "admin:users:manage"
    ADMIN_DEPARTMENTS = "admin:departments:manage"
    ADMIN_LEADERS = "admin:leaders:manage"
    ADMIN_LINKS = "admin:links:manage"
    ADMIN_MAIL = "admin:mail:manage"  # the outbox page: preview, retry now

    DIGEST_DAILY = "digests:daily:view"  # a 分管领导's live dashboard of their departments
    DIGEST_WEEKLY = "digests:weekly:view"  # the mayor's live weekly summary
    DIGEST_DEPUTY = "digests:deputy:edit"  # a leader names who receives copies
