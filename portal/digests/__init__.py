"""Digests: daily to each 分管领导 for the departments they supervise, weekly to the
mayor for every department; and the leaders' dashboards with the same figures live."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid_services import find_service_factory

from portal.digests.service import DigestSender, from_settings
from portal.mail.interfaces import IMailer

__all__ = ["DigestSender", "run_digests"]


def case_url_for(registry: Registry) -> Any:
    policy = registry.get("qzt.complaints.policy")
    if policy is not None:
        return policy.case_url
    public_url = str(registry.settings["qzt.public_url"]).rstrip("/")
    return lambda case_id: f"{public_url}/cases/{case_id}"


def run_digests(registry: Registry, now: datetime) -> None:
    """The ``digests.send`` job: every digest period that is due and not yet sent."""
    registry["qzt.digests.sender"].run_due(registry["dbsession_factory"], now)


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    registry = config.registry

    def build() -> None:
        # After commit: the mailer service and the complaints policy are registered.
        holder = SimpleNamespace(registry=registry)
        mailer = find_service_factory(holder, IMailer)(None, None)
        registry["qzt.digests.sender"] = from_settings(settings, mailer, case_url_for(registry))

    config.action("qzt.digests.sender", build, order=1)
    config.add_job("digests.send", settings["qzt.digests.check_interval"], run_digests)
    config.scan("portal.digests.views")
