"""The fixed moment tests start at, importable by factories without fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # a Monday, 09:30 in Asia/Shanghai


def now() -> datetime:
    return START
