"""Chat with online departments, the HTTP side: the token for the realtime server, the
enterprise's widget page and 留言, the staff console, transcripts, ratings, cases,
attachments, canned replies, reports and oversight. The live conversation runs on the
realtime server (``realtime/``), which this package never starts."""

from __future__ import annotations

from pyramid.config import Configurator

from portal.chat.interfaces import IChatService
from portal.chat.service import make_chat_service

#: seconds between passes of the transcript mailer over closed conversations
TRANSCRIPT_INTERVAL = 30


def includeme(config: Configurator) -> None:
    from portal.chat.closing import transcripts_job

    config.register_service(make_chat_service(config.get_settings()), IChatService)
    config.add_job("chat.transcripts", TRANSCRIPT_INTERVAL, transcripts_job)
    config.scan("portal.chat.tokens")
    config.scan("portal.chat.views")
    config.scan("portal.chat.closing")
    config.scan("portal.chat.offline")
    config.scan("portal.chat.attachments")
    config.scan("portal.chat.canned")
    config.scan("portal.chat.reports")
