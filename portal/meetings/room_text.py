"""Every sentence the meeting room shows, as msgids (translated where shown).

Two readers: the realtime server puts the Chinese of :data:`ERRORS` into the
``detail`` of its error messages (``realtime/meetings.py``), and the meeting page hands
:data:`PAGE` to ``static/meetings/room.js`` already translated. Keeping them here, in
the portal package, is what gets them extracted into the catalog.
"""

from __future__ import annotations

from typing import Any

from portal.i18n import N_, _

#: error code of a refused signalling message -> what the participant is told
ERRORS = {
    "not_in_meeting": N_("Join the meeting first."),
    "bad_sdp": N_("The session description is malformed and was not passed on."),
    "bad_candidate": N_("The network candidate is malformed and was not passed on."),
    "bad_peer": N_("The message names no participant of this meeting."),
    "bad_chat": N_("The chat message is malformed."),
    "empty_chat": N_("The chat message is empty."),
    "chat_too_long": N_("The chat message is too long (at most 1000 characters)."),
    "bad_message": N_("The message is malformed."),
    "not_host": N_("Only the department side can do this."),
    "not_waiting": N_("This person is not waiting for this meeting."),
}

#: what the page's script says, by key
PAGE = {
    "connecting": N_("Connecting to the meeting…"),
    "camera": N_("Starting your camera and microphone…"),
    "no_camera": N_(
        "Your camera or microphone cannot be used (${reason}). You can still follow and chat."
    ),
    "lobby": N_("You are in the lobby. The department will let you in shortly."),
    "refused": N_("The department did not admit you to this meeting."),
    "signed_out": N_("You have signed out of the portal. Sign in again to rejoin the meeting."),
    "alone": N_("You are in the meeting. Waiting for the others to join…"),
    "in_meeting": N_("In the meeting"),
    "peer_joined": N_("${name} joined the meeting."),
    "peer_left": N_("${name} left the meeting or lost the connection. Waiting for them to rejoin…"),
    "peer_trouble": N_("The connection to ${name} is interrupted; trying to restore it…"),
    "reconnecting": N_("Connection lost. Reconnecting… (attempt ${n})"),
    "left": N_("You left the meeting."),
    "rejoin": N_("Rejoin"),
    "knock": N_("${name} is waiting to join."),
    "admit": N_("Admit"),
    "deny": N_("Turn away"),
    "lobby_empty": N_("Nobody is waiting."),
    "you": N_("You"),
    "muted": N_("microphone off"),
    "camera_off": N_("camera off"),
    "sharing": N_("sharing the screen"),
    "mic_on": N_("Mute microphone"),
    "mic_off": N_("Unmute microphone"),
    "cam_on": N_("Turn camera off"),
    "cam_off": N_("Turn camera on"),
    "screen_on": N_("Stop sharing"),
    "screen_off": N_("Share screen"),
    "consent_request": N_(
        "${name} asks to record this meeting. It is recorded only if everyone agrees. Do you agree?"
    ),
    "consent_waiting": N_("Waiting for everyone to agree to the recording…"),
    "consent_declined": N_("${name} does not agree to the recording."),
    "recording": N_("This meeting is being recorded."),
    "recording_stopped": N_("Recording stopped."),
    "chat_empty": N_("No messages yet."),
    "error": N_("Something went wrong: ${detail}"),
}


def translated(localizer: Any, table: dict[str, str]) -> dict[str, str]:
    """The table in the localizer's language; ``${name}`` placeholders stay for the script."""
    return {key: str(localizer.translate(_(msgid))) for key, msgid in table.items()}
