"""企政通 portal: the composition root.

``main`` is the table of contents of the application. Each ``config.include`` wires
one concern; the order matters where noted. No other module creates engines,
clients or services.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.router import Router

from portal import settings as settings_mod


def main(global_config: dict[str, Any] | None, **raw_settings: Any) -> Router:
    settings = settings_mod.load({**(global_config or {}), **raw_settings})
    with Configurator(settings=settings) as config:
        # -- infrastructure ---------------------------------------------------------
        config.include("pyramid_services")  # request.find_service
        config.include("portal.clock")  # IClock (injectable time)
        config.include("portal.db")  # engine, request.dbsession, pyramid_tm, retry
        config.include("portal.sessions")  # server-side sessions (needs db, clock)
        config.include("portal.security")  # ACL policy, CSRF on every unsafe method
        config.include("portal.i18n")  # zh_CN default, en; locale negotiation
        config.include("portal.web")  # templates, static, security headers, errors, caching
        config.include("forms")  # deform renders through our translator and templates
        config.include("portal.routes")  # every URL, resource factories
        config.include("portal.jobs")  # config.add_job: the periodic scheduler
        config.include("portal.mail")  # IMailer: outbox, SMTP/maildir delivery
        # -- domains ----------------------------------------------------------------
        config.include("portal.accounts")  # users, enterprises, login, registration
        config.include("portal.departments")  # the 58 departments, leaders
        config.include("portal.links")  # 友情链接
        config.include("portal.content")  # sections, workflow, attachments, importer
        config.include("portal.searching")  # search service, indexing after commit, /search
        config.include("portal.home")  # the home page
        config.include("portal.chat")  # conversations with online departments (HTTP side)
        config.include("portal.meetings")  # 视频交流预约: availability, bookings, meeting room
        config.include("portal.complaints")  # cases, workflow, deadlines, Open311
        config.include("portal.digests")  # daily/weekly digests to leaders and the mayor
        config.include("portal.admin")  # administration screens
        return config.make_wsgi_app()
