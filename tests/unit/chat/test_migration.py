"""The chat tables built by migration 0005 match the models (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import portal.models  # noqa: F401  (every table in the metadata)
from portal.db import Base


def _chat(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return str(getattr(table, "name", "")).startswith("chat_")


def test_chat_tables_match_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": _chat, "compare_type": True},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
