"""Published content: one table for the four sections and 政策解读, with revisions,
workflow history and attachments.

One table rather than one per type because listings, the home page and search all
cross sections; the regulation-only fields (文号, 成文日期 …) are nullable columns.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.departments.models import Department


class Section(StrEnum):
    POLICY = "policy"  # 涉企政策
    REGULATION = "regulation"  # 法规公文
    INDUSTRY = "industry"  # 行业发展动态
    SERVICE = "service"  # 企政交流服务动态
    INTERPRETATION = "interpretation"  # 政策解读


class State(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Validity(StrEnum):
    IN_FORCE = "in_force"  # 现行有效
    AMENDED = "amended"  # 已修订
    REPEALED = "repealed"  # 已废止
    EXPIRED = "expired"  # 已失效


class ContentItem(Base):
    __tablename__ = "content_items"
    __table_args__ = (
        Index("ix_content_items_listing", "section", "state", "published_at"),
        Index("ix_content_items_doc_number_key", "doc_number_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=State.DRAFT.value)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    # -- government document metadata (政府信息公开) ------------------------------
    index_no: Mapped[str | None] = mapped_column(String(50))  # 索引号
    topic: Mapped[str | None] = mapped_column(String(50))  # 主题分类
    issuer: Mapped[str | None] = mapped_column(String(200))  # 发文机关
    doc_number: Mapped[str | None] = mapped_column(String(100))  # 发文字号, as written
    doc_number_key: Mapped[str | None] = mapped_column(String(100))  # normalised for lookup
    written_date: Mapped[date | None] = mapped_column(Date)  # 成文日期
    publish_date: Mapped[date | None] = mapped_column(Date)  # 发布日期
    effective_date: Mapped[date | None] = mapped_column(Date)  # 施行日期
    validity: Mapped[str | None] = mapped_column(String(20))
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL")
    )
    #: a 政策解读 points at the policy it explains; the policy finds it back
    interprets_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL"), index=True
    )
    # -- provenance --------------------------------------------------------------
    source_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    source_url: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    department: Mapped[Department | None] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()
    replaced_by: Mapped[ContentItem | None] = relationship(
        remote_side="ContentItem.id", foreign_keys=[replaced_by_id]
    )
    interprets: Mapped[ContentItem | None] = relationship(
        remote_side="ContentItem.id", foreign_keys=[interprets_id], back_populates="interpretations"
    )
    interpretations: Mapped[list[ContentItem]] = relationship(
        foreign_keys=[interprets_id], back_populates="interprets"
    )
    industry_rows: Mapped[list[ContentIndustry]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="item", order_by="Attachment.created_at"
    )
    history: Mapped[list[WorkflowEvent]] = relationship(order_by="WorkflowEvent.at")
    revisions: Mapped[list[Revision]] = relationship(order_by="Revision.version.desc()")

    @property
    def industries(self) -> list[str]:
        return sorted(r.industry for r in self.industry_rows)

    def set_industries(self, codes: list[str]) -> None:
        wanted = set(codes)
        keep = [r for r in self.industry_rows if r.industry in wanted]
        have = {r.industry for r in keep}
        self.industry_rows = keep + [ContentIndustry(industry=c) for c in sorted(wanted - have)]

    @property
    def __acl__(self) -> list[tuple[str, str, str]]:
        from portal.content.workflow import acl_for

        return acl_for(self)


class ContentIndustry(Base):
    __tablename__ = "content_industries"
    __table_args__ = (UniqueConstraint("content_id", "industry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    industry: Mapped[str] = mapped_column(String(4), index=True)


class Revision(Base):
    """A snapshot of an item's editable fields, taken at every save."""

    __tablename__ = "content_revisions"
    __table_args__ = (UniqueConstraint("content_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    author: Mapped[User | None] = relationship()


class WorkflowEvent(Base):
    """Who moved an item from one state to another, when, and why."""

    __tablename__ = "content_workflow_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    transition: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

    actor: Mapped[User | None] = relationship()


class Attachment(Base):
    """An uploaded file. ``id`` is random and is also the storage key: no user-chosen
    name ever reaches the filesystem."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    item: Mapped[ContentItem] = relationship(back_populates="attachments")

    @property
    def __acl__(self) -> list[tuple[str, str, str]]:
        # An attachment is visible exactly when its item is.
        from portal.content.workflow import attachment_acl

        return attachment_acl(self.item)
