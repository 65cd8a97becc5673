"""The words the chat scripts show, translated on the server and handed to the page as
JSON (static/chat/*.js have no gettext of their own)."""

from __future__ import annotations

from typing import Any

from pyramid.i18n import get_localizer
from pyramid.request import Request

from portal.i18n import N_, _

UI_TEXT = {
    # connection
    "connecting": N_("Connecting…"),
    "connected": N_("Connected"),
    "reconnecting": N_("Connection lost. Reconnecting in ${n} s…"),
    "reconnect_now": N_("Reconnect now"),
    "broken": N_("The chat cannot connect. Please reload the page."),
    "signed_out": N_("You have signed out of the portal. Sign in again to continue the chat."),
    # presence
    "online": N_("Online"),
    "offline": N_("Offline"),
    "online_count": N_("${n} departments online"),
    "dept_online": N_("Staff are online: start a conversation and they answer you directly."),
    "dept_offline": N_(
        "Nobody in this department is online at the moment. Leave a message: it is "
        "registered as a case and answered."
    ),
    "dept_offline_waiting": N_(
        "Nobody in this department is online at the moment. You may keep waiting or "
        "leave a message."
    ),
    # the conversation
    "queue": N_(
        "You are number ${position} in the queue (${waiting} waiting). "
        "Estimated wait: about ${minutes} min."
    ),
    "assigned": N_("${name} is answering you."),
    "waiting": N_("Waiting for a staff member…"),
    "sending": N_("Sending…"),
    "sent": N_("Sent"),
    "read": N_("Read"),
    "unsent": N_("Not sent yet: it is resent when the connection is back."),
    "typing": N_("${name} is typing…"),
    "closed": N_("The conversation has ended."),
    "you": N_("You"),
    "staff_side": N_("Staff"),
    "system_assigned": N_("${name} joined the conversation"),
    "system_transferred": N_("The conversation was transferred"),
    "system_closed": N_("The conversation was closed"),
    "attachment": N_("Attachment"),
    "uploading": N_("Uploading ${name}…"),
    "rated": N_("Thank you for your rating."),
    "choose_rating": N_("Choose one of the five ratings."),
    "new_messages": N_("${n} new"),
    "more_history": N_("Earlier messages"),
    # the console
    "no_conversations": N_("No conversations here."),
    "pick_conversation": N_("Choose a conversation on the left."),
    "claim": N_("Take this conversation"),
    "read_only": N_("You are reading this conversation; only its staff member writes."),
    "queued_for": N_("waiting ${minutes} min"),
    "conversation_with": N_("Conversation with ${name}"),
    "status_saved": N_("Your status: ${status}"),
    "transferred": N_("The conversation was handed over."),
    "case_opened": N_("Case ${number} was opened from this conversation."),
    "confirm_close": N_("End this conversation?"),
    "confirm_case": N_("Open a complaint case from this conversation and end it?"),
    "choose_target": N_("Choose a colleague or a department."),
    "status_online": N_("Online"),
    "status_busy": N_("Busy"),
    "status_away": N_("Away"),
    # refusals, by protocol error code
    "error_not_found": N_("This conversation does not exist or is not yours to see."),
    "error_forbidden": N_("You may not do this in this conversation."),
    "error_conflict": N_("Someone changed this conversation just now. Please reload the page."),
    "error_department_offline": N_("Nobody in this department is online at the moment."),
    "error_invalid": N_("The request was not valid."),
    "error_rate_limited": N_("You are sending too fast; the message will be resent."),
    "error_internal": N_("Something went wrong on the server. Please try again."),
    "error_upload": N_("The file could not be uploaded."),
}


def ui_text(request: Request) -> dict[str, Any]:
    """Every script string in the request's language; ``${x}`` placeholders stay for
    the script to fill."""
    translate = get_localizer(request).translate
    return {key: translate(_(msgid)) for key, msgid in UI_TEXT.items()}
