"""The search outbox: content whose index entry may be out of date.

A row is written in the same transaction as the change it reports, and deleted only
after the index has committed that item's new state. So a process that dies between
the database commit and the index write leaves the row behind, and the next drain
(at start, then every ``qzt.search.drain_interval`` seconds, in any process)
repairs the index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base


class SearchOutbox(Base):
    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the row must outlive a deleted item so its entry is removed.
    content_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime]
