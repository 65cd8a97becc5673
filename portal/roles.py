"""Roles and the principal strings built from them.

A user holds one or more roles; some are scoped to a department. Principals are what
ACLs name, so every ``__acl__`` in the project builds them with these helpers rather
than formatting strings by hand.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ENTERPRISE = "enterprise"  # 企业用户
    STAFF = "staff"  # 部门工作人员
    HEAD = "head"  # 部门负责人
    LEADER = "leader"  # 市领导
    EDITOR = "editor"  # 内容编辑
    REVIEWER = "reviewer"  # 审核发布
    SUPERVISOR = "supervisor"  # 监察 (read-only oversight)
    ADMIN = "admin"  # 系统管理员


#: roles held by government people; they get the stricter password rule
STAFF_ROLES = frozenset(Role) - {Role.ENTERPRISE}

#: roles whose power depends on a department when the user has one
DEPARTMENT_SCOPED = frozenset({Role.STAFF, Role.HEAD, Role.EDITOR, Role.REVIEWER})

#: roles that write content; only their holders keep an author's rights on what they wrote
AUTHORING = frozenset({Role.EDITOR, Role.REVIEWER})


def role(r: Role) -> str:
    return f"role:{r.value}"


def user(user_id: int) -> str:
    return f"user:{user_id}"


def dept(dept_id: int) -> str:
    return f"dept:{dept_id}"


def enterprise(enterprise_id: int) -> str:
    return f"enterprise:{enterprise_id}"


def author(user_id: int) -> str:
    """``author:7``: held by user 7 only while an editor or reviewer (see AUTHORING)."""
    return f"author:{user_id}"


def scoped(r: Role, dept_id: int | None) -> str:
    """``role:editor@dept:12`` for a department's editor; ``role:editor@all`` for the portal
    office (an editor with no department)."""
    return f"role:{r.value}@{'all' if dept_id is None else f'dept:{dept_id}'}"


def principals_for(
    user_id: int, roles: set[Role], department_id: int | None, enterprise_id: int | None
) -> list[str]:
    found = [user(user_id)]
    for r in sorted(roles):
        found.append(role(r))
        if r in DEPARTMENT_SCOPED:
            found.append(scoped(r, department_id))
    if roles & AUTHORING:
        found.append(author(user_id))
    if department_id is not None:
        found.append(dept(department_id))
    if enterprise_id is not None:
        found.append(enterprise(enterprise_id))
    return found
