"""Administration: users, departments, leaders (分管), links."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.scan("portal.admin.views")
