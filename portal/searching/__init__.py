"""Site search: the service chosen by ``qzt.search.backend``, indexing that follows
committed content changes, the outbox drain, and the /search pages.

search/ knows nothing of the portal; this package turns content items into search
documents (documents.py), keeps the index in step (indexer.py) and serves the pages
(views.py).
"""

from __future__ import annotations

import os
from typing import Any

from pyramid.config import Configurator
from pyramid.events import ApplicationCreated

from portal.clock import SystemClock
from portal.content.interfaces import ContentChanged
from portal.searching.indexer import Drainer, Indexer, listen
from search import ISearchService, make_service


def _path(settings: dict[str, Any], value: str) -> str:
    if not value or os.path.isabs(value):
        return value
    return os.path.join(str(settings.get("here", os.getcwd())), value)


def index_dir(settings: dict[str, Any]) -> str:
    return _path(settings, str(settings["qzt.search.index_dir"]))


def build_indexer(settings: dict[str, Any]) -> Indexer:
    """The service and its indexer from settings (the app and ``qzt reindex``)."""
    service = make_service(
        settings["qzt.search.backend"],
        index_dir(settings),
        max_query_chars=settings["qzt.search.max_query_chars"],
        writer_timeout=settings["qzt.search.writer_timeout"],
        term_model=_path(settings, str(settings["qzt.search.term_model"])),
    )
    return Indexer(service, settings.get("qzt.clock") or SystemClock())


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    indexer = build_indexer(settings)
    config.register_service(indexer.service, ISearchService)
    config.registry["search_indexer"] = indexer
    listen()

    def on_content_changed(event: ContentChanged) -> None:
        from sqlalchemy.orm import object_session

        session = object_session(event.item)
        if session is not None:
            indexer.enqueue(session, event.item.id)

    config.add_subscriber(on_content_changed, ContentChanged)

    def on_created(event: ApplicationCreated) -> None:
        drainer = Drainer(
            indexer, config.registry["db_engine"], settings["qzt.search.drain_interval"]
        )
        config.registry["search_drainer"] = drainer
        drainer.start()

    config.add_subscriber(on_created, ApplicationCreated)
    config.scan("portal.searching.views")
