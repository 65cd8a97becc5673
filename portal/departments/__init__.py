"""Departments and leaders: the directory, department pages, 分管 relations."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    from portal.departments.oversight import request_oversight

    config.add_request_method(request_oversight, "oversight", reify=True)
    config.scan("portal.departments.views")
