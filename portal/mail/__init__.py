"""Mail: the outbox every domain queues into (``IMailer``), its delivery to SMTP or a
local maildir with retries, and the admin outbox page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry

from portal.clock import SystemClock
from portal.mail.delivery import OutboxSender, RetryPolicy
from portal.mail.interfaces import IMailer, IMailTransport, MailAttachment
from portal.mail.outbox import OutboxMailer
from portal.mail.transports import transport_from_settings

__all__ = ["IMailer", "MailAttachment", "OutboxMailer", "build_sender"]


def build_sender(settings: dict[str, Any], session_factory: Any) -> OutboxSender:
    """The outbox sender as the settings describe it (the portal's job, ``qzt mail``)."""
    timeout = settings["qzt.mail.smtp.timeout"]
    return OutboxSender(
        session_factory,
        transport_from_settings(settings),
        settings.get("qzt.clock") or SystemClock(),
        envelope_from=settings["qzt.mail.sender"],
        policy=RetryPolicy(
            base=settings["qzt.mail.retry_base"],
            cap=settings["qzt.mail.retry_max"],
            max_attempts=settings["qzt.mail.max_attempts"],
        ),
        batch_size=settings["qzt.mail.batch_size"],
        # Long enough that a live sender never loses a claim to another: every SMTP
        # step may take ``timeout`` seconds.
        lease=timedelta(seconds=max(300, 10 * timeout)),
    )


def deliver(registry: Registry, now: datetime) -> None:
    """The ``mail.deliver`` job: one drain of the outbox."""
    registry["qzt.mail.outbox_sender"].run()


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    mailer = OutboxMailer(
        settings.get("qzt.clock") or SystemClock(),
        sender=settings["qzt.mail.sender"],
        domain=settings["qzt.mail.domain"],
    )
    config.register_service(mailer, IMailer)
    sender = build_sender(settings, config.registry["dbsession_factory"])
    config.registry["qzt.mail.outbox_sender"] = sender
    config.register_service(sender.transport, IMailTransport)
    config.add_job("mail.deliver", settings["qzt.mail.send_interval"], deliver)
    config.scan("portal.mail.views")
