"""The home page: four columns of latest items and the sidebar."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.scan("portal.home.views")
