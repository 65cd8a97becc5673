"""Departments and leaders: the directory, department pages, 分管 relations."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.scan("portal.departments.views")
