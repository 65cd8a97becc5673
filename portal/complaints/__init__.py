"""Complaints (诉求办理): intake, routing, the case workflow, deadlines on the Chinese
calendar with 催办 / 督办, ratings and 整改, department statistics, Open311."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid_services import find_service_factory

from portal.clock import IClock, SystemClock
from portal.complaints.alerts import run_deadline_checks
from portal.complaints.interfaces import ICaseService
from portal.complaints.policy import CasePolicy
from portal.complaints.resources import case_scope
from portal.content.files import IFileStorage
from portal.mail.interfaces import IMailer


def make_case_service(registry: Registry) -> Any:
    """The case service for code that runs outside a request (jobs, commands)."""
    from portal.complaints.notify import Notifier, make_translator
    from portal.complaints.services import CaseService

    settings = registry.settings
    policy: CasePolicy = registry["qzt.complaints.policy"]
    holder = SimpleNamespace(registry=registry)
    mailer = find_service_factory(holder, IMailer)(None, None)
    notifier = Notifier(mailer, policy, make_translator(settings["pyramid.default_locale_name"]))
    clock = settings.get("qzt.clock") or SystemClock()
    storage = find_service_factory(holder, IFileStorage)(None, None)
    return CaseService(clock, storage, notifier, policy)


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    config.registry["qzt.complaints.policy"] = CasePolicy.from_settings(settings)

    def factory(context: Any, request: Any) -> Any:
        from portal.complaints.notify import Notifier, make_translator
        from portal.complaints.services import CaseService

        policy = request.registry["qzt.complaints.policy"]
        notifier = Notifier(
            request.find_service(IMailer),
            policy,
            make_translator(request.registry.settings["pyramid.default_locale_name"]),
        )
        return CaseService(
            request.find_service(IClock), request.find_service(IFileStorage), notifier, policy
        )

    config.register_service_factory(factory, ICaseService)
    config.add_request_method(case_scope, "case_scope", reify=True)
    config.scan("portal.complaints.views")
    config.scan("portal.complaints.dashboard")
    config.scan("portal.complaints.open311")
    config.add_job(
        "complaints.deadlines",
        settings["qzt.complaints.check_interval"],
        run_deadline_checks,
    )
