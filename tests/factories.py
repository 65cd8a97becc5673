"""factory_boy factories per domain. ``bind(session)`` points them at the test's session."""

from __future__ import annotations

import random
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from portal.accounts.models import Enterprise, User
from portal.accounts.validation import USCC_ALPHABET, uscc_check_char
from portal.content.models import ContentItem, Section, State
from portal.departments.models import Department, Leader
from portal.links.models import FriendLink
from portal.roles import Role
from tests.timeline import now

PASSWORD = "Correct-Horse-42"
_HASHES: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    if password not in _HASHES:
        from argon2 import PasswordHasher

        _HASHES[password] = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(
            password
        )
    return _HASHES[password]


def valid_uscc(seed: int) -> str:
    rng = random.Random(seed)
    body = "91" + "440700" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_char(body)


_FACTORIES: list[type[SQLAlchemyModelFactory]] = []


def bind(session: Session) -> None:
    for f in _FACTORIES:
        f._meta.sqlalchemy_session = session


def _register(cls: Any) -> Any:
    _FACTORIES.append(cls)
    return cls


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


@_register
class DepartmentFactory(Base):
    class Meta:
        model = Department

    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.Sequence(lambda n: f"测试局{n}")
    short_name = factory.Sequence(lambda n: f"测试{n}")
    category = "经济发展"
    responsibilities = "负责测试相关的企业服务事项。"
    sort_order = factory.Sequence(lambda n: n)
    is_active = True


@_register
class EnterpriseFactory(Base):
    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"江门测试制造有限公司{n}")
    uscc = factory.Sequence(valid_uscc)
    industry = "C"
    contact_person = "张三"
    contact_phone = "13800138000"
    created_at = factory.LazyFunction(now)


@_register
class UserFactory(Base):
    class Meta:
        model = User

    login = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    password_hash = factory.LazyFunction(password_hash)
    is_active = True
    failed_logins = 0
    created_at = factory.LazyFunction(now)

    @factory.post_generation
    def roles(self, create: bool, extracted: Any, **kw: Any) -> None:
        self.set_roles(set(extracted or ()))


def enterprise_user(**kw: Any) -> User:
    enterprise = kw.pop("enterprise", None) or EnterpriseFactory()
    return UserFactory(roles=[Role.ENTERPRISE], enterprise=enterprise, **kw)


@_register
class LeaderFactory(Base):
    class Meta:
        model = Leader

    name = factory.Sequence(lambda n: f"领导{n}")
    title = "副市长"
    is_mayor = False
    email = factory.Sequence(lambda n: f"leader{n}@example.com")
    sort_order = factory.Sequence(lambda n: n)


@_register
class FriendLinkFactory(Base):
    class Meta:
        model = FriendLink

    title = factory.Sequence(lambda n: f"链接{n}")
    url = factory.Sequence(lambda n: f"https://www{n}.example.gov.cn/")
    sort_order = factory.Sequence(lambda n: n)


@_register
class ContentItemFactory(Base):
    class Meta:
        model = ContentItem

    section = Section.POLICY.value
    state = State.PUBLISHED.value
    title = factory.Sequence(lambda n: f"关于支持企业发展的若干措施（第{n}号）")
    summary = "支持企业发展。"
    body = "<p>正文。</p>"
    created_at = factory.LazyFunction(now)
    updated_at = factory.LazyFunction(now)
    published_at = factory.LazyAttribute(
        lambda o: now() if o.state == State.PUBLISHED.value else None
    )
    version = 1
