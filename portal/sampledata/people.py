"""Sample departments, leaders and people: every role has someone to log in as.

Rows are created only when their natural key (department code or name, leader name,
login, e-mail, 统一社会信用代码) is not taken yet, so ``seed --force`` fills in what
is missing without tripping over what an administrator already set up.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Enterprise, User
from portal.accounts.validation import uscc_check_char
from portal.departments.models import Department, Leader
from portal.roles import Role
from portal.sampledata.departments import DEPARTMENTS, LEADERS, address_of, phone_of

GOV_DOMAIN = "example.gov.cn"

# 17 characters of a 统一社会信用代码: 9 (enterprise) 1 (company), 440703 (蓬江区),
# then a made-up organisation code; the check character is computed at load time.
ENTERPRISE_USCC_BODY = "91440703MA56QW7K3"

_SURNAMES = "陈李黄张梁林吴刘何谭周余关邓冯郑赵罗许朱叶杨胡钟麦容甄伍区司"
_GIVEN = (
    "志明", "嘉欣", "伟强", "慧玲", "国华", "丽娟", "建新", "晓峰", "永康", "美玲", "海涛", "秀英",
    "家豪", "雅婷", "卫东", "少华", "文辉", "佩珊", "锦荣", "月华", "振宇", "淑仪", "俊杰", "碧霞",
)  # fmt: skip
_STAFF_TITLES = ("一级主任科员", "科长", "二级主任科员", "副科长", "四级调研员")


class Cast(NamedTuple):
    """The people the content loader needs: who writes and who publishes."""

    editor: User | None
    reviewer: User | None


class Person(NamedTuple):
    login: str
    display_name: str
    roles: frozenset[Role]
    title: str = ""
    department: str | None = None  # department code
    email_domain: str = GOV_DOMAIN


def load_departments(db: Session) -> dict[str, Department]:
    """All sample departments by code, creating the missing ones."""
    by_code = {d.code: d for d in db.scalars(select(Department))}
    names = {d.name for d in by_code.values()}
    for index, data in enumerate(DEPARTMENTS):
        if data.code in by_code or data.name in names:
            continue
        by_code[data.code] = Department(
            code=data.code,
            name=data.name,
            short_name=data.short_name,
            category=data.category,
            responsibilities=data.responsibilities,
            address=address_of(index, data),
            phone=phone_of(index),
            sort_order=(index + 1) * 10,
            is_active=True,
        )
        db.add(by_code[data.code])
    db.flush()
    return by_code


def load_leaders(db: Session, departments: dict[str, Department]) -> dict[str, Leader]:
    """Leaders by key ("mayor", "v1" …); a new vice mayor gets the departments he 分管."""
    existing = {leader.name: leader for leader in db.scalars(select(Leader))}
    found: dict[str, Leader] = {}
    for index, data in enumerate(LEADERS):
        leader = existing.get(data.name)
        if leader is None:
            leader = Leader(
                name=data.name,
                title=data.title,
                is_mayor=data.key == "mayor",
                email=f"{leader_login(data.key)}@{GOV_DOMAIN}",
                portfolio=data.portfolio,
                sort_order=index * 10,
            )
            leader.departments = [
                departments[d.code]
                for d in DEPARTMENTS
                if d.leader == data.key and d.code in departments
            ]
            db.add(leader)
        found[data.key] = leader
    db.flush()
    return found


def leader_login(key: str) -> str:
    return "mayor" if key == "mayor" else f"vice-mayor{key[1:]}"


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def department_people() -> list[Person]:
    """One head and one or two staff per department, with deterministic names."""
    rng = random.Random(58)  # noqa: S311  (sample names, not secrets)
    people: list[Person] = []
    for index, data in enumerate(DEPARTMENTS):
        people.append(
            Person(
                f"{data.code}-head", _name(rng), frozenset({Role.HEAD}), data.head_title, data.code
            )
        )
        staff_count = 2 if data.code == "fgj" or index % 3 == 0 else 1
        for n in range(1, staff_count + 1):
            title = _STAFF_TITLES[(index + n) % len(_STAFF_TITLES)]
            people.append(
                Person(
                    f"{data.code}-staff{n}", _name(rng), frozenset({Role.STAFF}), title, data.code
                )
            )
    return people


def office_people() -> list[Person]:
    """The portal office, oversight and the city leaders."""
    people = [
        Person("admin", "系统管理员", frozenset({Role.ADMIN}), "系统管理员"),
        Person("editor", "何嘉欣", frozenset({Role.EDITOR}), "门户网站编辑"),
        Person("reviewer", "郑文博", frozenset({Role.REVIEWER}), "门户网站审核"),
        Person("supervisor", "孔德明", frozenset({Role.SUPERVISOR}), "监察专员"),
    ]
    people += [
        Person(leader_login(data.key), data.name, frozenset({Role.LEADER}), data.title)
        for data in LEADERS
    ]
    return people


def load_people(
    db: Session,
    departments: dict[str, Department],
    leaders: dict[str, Leader],
    password_hash: str,
    at: datetime,
) -> Cast:
    """Create every sample user missing so far; all share ``password_hash``."""
    users = {u.login: u for u in db.scalars(select(User))}
    emails = {u.email for u in users.values() if u.email}
    for person in office_people() + department_people():
        email = f"{person.login}@{person.email_domain}"
        if person.login in users or email in emails:
            continue
        if person.department is not None and person.department not in departments:
            continue
        user = _user(person.login, person.display_name, email, password_hash, at)
        user.title = person.title
        user.department = departments[person.department] if person.department else None
        user.set_roles(set(person.roles))
        db.add(user)
        users[person.login] = user
    _load_enterprise(db, users, password_hash, at)
    db.flush()
    for key, leader in leaders.items():
        account = users.get(leader_login(key))
        if leader.user_id is None and account is not None:
            leader.user_id = account.id
    return Cast(editor=users.get("editor"), reviewer=users.get("reviewer"))


def _user(login: str, name: str, email: str, password_hash: str, at: datetime) -> User:
    return User(
        login=login,
        email=email,
        display_name=name,
        password_hash=password_hash,
        is_active=True,
        failed_logins=0,
        is_enterprise_admin=False,
        created_at=at,
        password_changed_at=at,
    )


def enterprise_uscc() -> str:
    return ENTERPRISE_USCC_BODY + uscc_check_char(ENTERPRISE_USCC_BODY)


def _load_enterprise(db: Session, users: dict[str, User], password_hash: str, at: datetime) -> None:
    """A registered manufacturer with its account holder and one colleague."""
    uscc = enterprise_uscc()
    enterprise = db.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    if enterprise is None:
        enterprise = Enterprise(
            name="江门市和晟精密五金制品有限公司",
            uscc=uscc,
            industry="C",
            contact_person="陈家豪",
            contact_phone="13929000001",
            address="江门市蓬江区棠下镇示范工业园8号",
            created_at=at,
        )
        db.add(enterprise)
    for login, name, is_admin in (("enterprise", "陈家豪", True), ("enterprise2", "梁雅婷", False)):
        if login in users:
            continue
        user = _user(login, name, f"{login}@example.com", password_hash, at)
        user.enterprise = enterprise
        user.is_enterprise_admin = is_admin
        user.phone = "13929000001" if is_admin else "13929000002"
        user.set_roles({Role.ENTERPRISE})
        db.add(user)
        users[login] = user
