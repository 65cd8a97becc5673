"""The city's departments and the leaders who supervise them (分管领导)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

if TYPE_CHECKING:
    from portal.accounts.models import User

leader_departments = Table(
    "leader_departments",
    Base.metadata,
    Column("leader_id", ForeignKey("leaders.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: short ASCII slug used in URLs: /departments/fgj
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    short_name: Mapped[str] = mapped_column(String(40))
    #: 综合管理 / 经济发展 / 城市建设 / 社会事业 / 执法监管 …, groups the directory
    category: Mapped[str] = mapped_column(String(20))
    #: what the department handles, in the words an enterprise would look for
    responsibilities: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list[User]] = relationship(back_populates="department")
    leaders: Mapped[list[Leader]] = relationship(
        secondary=leader_departments, back_populates="departments"
    )


class Leader(Base):
    """A city leader: the mayor (receives the weekly summary) or a vice mayor (分管领导)."""

    __tablename__ = "leaders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(50))  # 市长 / 常务副市长 / 副市长
    is_mayor: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str] = mapped_column(String(254), default="")
    portfolio: Mapped[str] = mapped_column(Text, default="")  # 分管工作 as published
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    departments: Mapped[list[Department]] = relationship(
        secondary=leader_departments, back_populates="leaders", order_by="Department.sort_order"
    )
