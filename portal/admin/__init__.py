"""Administration: users, departments, leaders (分管), links."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from portal.admin.services import DirectoryAdmin, IDirectoryAdmin, ILinkAdmin, LinkAdmin


def _directory_admin(context: Any, request: Request) -> DirectoryAdmin:
    return DirectoryAdmin(request.dbsession)


def _link_admin(context: Any, request: Request) -> LinkAdmin:
    return LinkAdmin(request.dbsession)


def includeme(config: Configurator) -> None:
    config.register_service_factory(_directory_admin, IDirectoryAdmin)
    config.register_service_factory(_link_admin, ILinkAdmin)
    config.scan("portal.admin.views")
