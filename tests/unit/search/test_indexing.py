"""Indexing follows committed changes: real commits on a database of their own.

The per-test rolled-back session of tests/conftest.py never really commits, so these
tests migrate a temporary SQLite file, build the real app on it, and change content
through ContentService and real ``Session.commit()`` calls.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal import main
from portal.cli import alembic_config
from portal.cli import main as qzt
from portal.clock import FrozenClock
from portal.content.files import LocalFileStorage
from portal.content.models import ContentItem
from portal.content.services import ContentService
from portal.db import make_engine
from portal.searching.indexer import PENDING, Drainer, Indexer
from portal.searching.models import SearchOutbox
from search.interfaces import Document, Query
from search.whoosh_backend import WhooshSearchService

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Any, settings: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A migrated SQLite file, the app on it with its own index, and a session factory."""
    url = f"sqlite:///{tmp_path}/committed.sqlite"
    local = {
        **settings,
        "sqlalchemy.url": url,
        "qzt.search.index_dir": str(tmp_path / "index"),
        "qzt.search.drain_interval": 0,
        "qzt.search.writer_timeout": 1,
        "qzt.clock": FrozenClock(NOW),
    }
    engine = make_engine(local)
    cfg = alembic_config(local)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    app = main({}, **{**local, "qzt.engine": engine})
    yield {"app": app, "engine": engine, "indexer": app.registry["search_indexer"], "tmp": tmp_path}
    engine.dispose()


def service_for(world: dict[str, Any], db: Session) -> ContentService:
    app = world["app"]
    return ContentService(
        db,
        FrozenClock(NOW),
        LocalFileStorage(str(world["tmp"] / "files")),
        app.registry.notify,
        1024,
    )


def titles(indexer: Indexer, text: str) -> list[str]:
    return [hit.title for hit in indexer.service.search(Query(text=text)).hits]


def outbox(engine: Engine) -> int:
    with Session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(SearchOutbox)) or 0)


def publish(world: dict[str, Any], title: str) -> int:
    with Session(world["engine"]) as db:
        content = service_for(world, db)
        item = content.create("policy", {"title": title, "summary": title}, None)
        content.transition(item, "submit", None)
        content.transition(item, "publish", None)
        db.commit()
        return item.id


def test_commit_indexes_at_once_and_rollback_indexes_nothing(world):
    indexer, engine = world["indexer"], world["engine"]
    item_id = publish(world, "关于支持外贸企业稳订单的通知")
    assert titles(indexer, "外贸企业") == ["关于支持外贸企业稳订单的通知"]
    assert outbox(engine) == 0  # applied, so removed

    with Session(engine) as db:
        content = service_for(world, db)
        content.update(
            db.get(ContentItem, item_id), {"title": "关于支持外贸企业拓市场的通知"}, None
        )
        db.rollback()
    assert titles(indexer, "外贸企业") == ["关于支持外贸企业稳订单的通知"]
    assert outbox(engine) == 0

    with Session(engine) as db:
        content = service_for(world, db)
        content.transition(db.get(ContentItem, item_id), "archive", None)
        db.commit()
    assert titles(indexer, "外贸企业") == []


def test_a_crash_between_commit_and_index_is_repaired_on_start(world):
    indexer, engine = world["indexer"], world["engine"]
    publish(world, "已经在索引里的通知")
    with Session(engine) as db:
        content = service_for(world, db)
        item = content.create("policy", {"title": "知识产权质押融资办法"}, None)
        content.transition(item, "submit", None)
        content.transition(item, "publish", None)
        # The process dies right after the commit: no after-commit indexing happens.
        db.info.pop(PENDING)
        db.commit()
    assert titles(indexer, "知识产权") == []
    assert outbox(engine) == 3

    # The next process to start drains the outbox.
    restarted = Indexer(WhooshSearchService(indexer.service.path), FrozenClock(NOW))
    Drainer(restarted, engine, interval=0).run_once()
    assert titles(restarted, "知识产权") == ["知识产权质押融资办法"]
    assert outbox(engine) == 0


def test_an_index_write_that_fails_keeps_the_change_for_later(world):
    indexer, engine = world["indexer"], world["engine"]
    blocker = indexer.service._ix.writer()  # another process holds the write lock
    try:
        publish(world, "数据出境安全评估申报指南")  # the commit itself succeeds
    finally:
        blocker.cancel()
    assert titles(indexer, "数据出境") == []
    assert outbox(engine) == 3
    assert indexer.drain(engine) == 3
    assert titles(indexer, "数据出境") == ["数据出境安全评估申报指南"]
    assert outbox(engine) == 0


def test_an_empty_index_is_rebuilt_on_start_and_qzt_reindex_rebuilds(world, tmp_path):
    engine = world["engine"]
    publish(world, "企业开办一网通办")
    fresh = Indexer(WhooshSearchService(str(tmp_path / "new-index")), FrozenClock(NOW))
    Drainer(fresh, engine, interval=0).run_once()
    assert titles(fresh, "一网通办") == ["企业开办一网通办"]

    ini = tmp_path / "test.ini"
    ini.write_text(
        "[app:main]\nuse = egg:qizhengtong\n"
        f"sqlalchemy.url = sqlite:///{tmp_path}/committed.sqlite\n"
        f"qzt.search.index_dir = {tmp_path}/cli-index\n"
    )
    assert qzt(["--ini", str(ini), "reindex"]) == 0
    rebuilt = WhooshSearchService(str(tmp_path / "cli-index"))
    assert [h.title for h in rebuilt.search(Query(text="一网通办")).hits] == ["企业开办一网通办"]


def _write_many(path: str, start: int) -> None:
    service = WhooshSearchService(path, writer_timeout=60)
    for n in range(start, start + 15):
        with service.batch() as batch:
            batch.upsert(Document(id=f"doc:{n}", title=f"并发写入测试文件{n}", url=f"/{n}"))


def test_several_processes_index_at_once_without_losing_a_document(tmp_path):
    path = str(tmp_path / "shared-index")
    WhooshSearchService(path)  # created once, as the first portal process does
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, n * 100)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    service = WhooshSearchService(path)
    assert service.count() == 45
    assert len(set(service.document_ids())) == 45
    assert service.search(Query(text="并发写入", page_size=50)).total == 45
    assert not [f for f in os.listdir(path) if f.endswith(".lock") and "WRITELOCK" not in f]
