"""Content: the four sections and 政策解读, Plone-style workflow, attachments, importer."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from portal.clock import IClock
from portal.content.files import IFileStorage, LocalFileStorage
from portal.content.interfaces import IContentService


def _after_commit(request: Request) -> Any:
    def schedule(fn: Any) -> None:
        request.tm.get().addAfterCommitHook(lambda ok: fn() if ok else None)

    return schedule


def _content_service(context: Any, request: Request) -> Any:
    from portal.content.services import ContentService

    return ContentService(
        request.dbsession,
        request.find_service(IClock),
        request.find_service(IFileStorage),
        request.registry.notify,
        request.registry.settings["qzt.upload.max_bytes"],
        after_commit=_after_commit(request),
    )


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    config.register_service(LocalFileStorage(settings["qzt.storage_dir"]), IFileStorage)
    config.register_service_factory(_content_service, IContentService)
    config.scan("portal.content.views")
    config.scan("portal.content.manage")
