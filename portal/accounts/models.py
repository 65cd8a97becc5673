"""Users, their roles, and the enterprises they act for."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import roles as P
from portal.db import Base
from portal.roles import Role

if TYPE_CHECKING:
    from portal.departments.models import Department


class Enterprise(Base):
    """An enterprise account (企业): several users may act for it."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # 统一社会信用代码 (GB 32100-2015), stored upper-case, check character verified
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    industry: Mapped[str] = mapped_column(String(4))
    contact_person: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(30))
    address: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    users: Mapped[list[User]] = relationship(back_populates="enterprise")


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(30), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    #: the enterprise user who registered the account may add colleagues
    is_enterprise_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str] = mapped_column(String(50), default="")  # 职务, e.g. 局长
    locale: Mapped[str | None] = mapped_column(String(10))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    department: Mapped[Department | None] = relationship(back_populates="members")
    enterprise: Mapped[Enterprise | None] = relationship(back_populates="users")

    @property
    def roles(self) -> set[Role]:
        return {Role(r.role) for r in self.role_rows}

    def set_roles(self, roles: set[Role]) -> None:
        keep = [r for r in self.role_rows if r.role in roles]
        have = {r.role for r in keep}
        self.role_rows = keep + [UserRole(role=r.value) for r in sorted(roles) if r not in have]

    def has_role(self, role: Role) -> bool:
        return any(r.role == role for r in self.role_rows)

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & P.STAFF_ROLES)

    @property
    def principals(self) -> list[str]:
        principals = P.principals_for(self.id, self.roles, self.department_id, self.enterprise_id)
        if self.is_enterprise_admin and self.enterprise_id is not None:
            principals.append(f"enterprise-admin:{self.enterprise_id}")
        return principals

    @property
    def __acl__(self) -> list[tuple[str, str, str]]:
        from pyramid.authorization import Allow

        from portal.permissions import Permission

        return [
            (Allow, P.user(self.id), Permission.ACCOUNT_SELF),
            (Allow, P.role(Role.ADMIN), Permission.ADMIN_USERS),
        ]
