"""Sample data for a demo portal: ``qzt seed``.

The city's 58 departments, its mayor and vice mayors (each department supervised
by exactly one), a head and staff for every department, a demo account for every
role, a registered enterprise, 友情链接, and a few dozen items in each content
section with their workflow history. All text was written for this project; names,
addresses, telephone numbers and figures are illustrative.

Loading is idempotent: when departments exist the loader does nothing, unless
``force`` asks it to add whatever sample rows are still missing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import portal.models  # noqa: F401  (a command has no app to configure every mapper first)
from portal.accounts.passwords import Argon2PasswordHasher, IPasswordHasher
from portal.departments.models import Department
from portal.links.models import FriendLink
from portal.sampledata.cases import load_cases
from portal.sampledata.links import LINKS
from portal.sampledata.meetings import load_availability
from portal.sampledata.people import load_departments, load_leaders, load_people
from portal.sampledata.publishing import load_content

#: one password for every demo account; meets the staff rule (>= 12, two kinds)
DEMO_PASSWORD = "Qzt-Demo-2026!"  # noqa: S105  (published in the README on purpose)

#: the accounts worth trying first, one per role: (login, role as shown to people)
DEMO_ACCOUNTS: list[tuple[str, str]] = [
    ("admin", "系统管理员"),
    ("editor", "内容编辑（门户网站办公室）"),
    ("reviewer", "审核发布"),
    ("supervisor", "监察"),
    ("mayor", "市长"),
    ("vice-mayor1", "常务副市长（分管市发展和改革局等）"),
    ("fgj-head", "部门负责人（市发展和改革局）"),
    ("fgj-staff1", "部门工作人员（市发展和改革局）"),
    ("enterprise", "企业用户（企业账户管理人）"),
    ("enterprise2", "企业用户（同一企业的同事）"),
]

#: every date in the sample data is counted back from this moment (a Friday, 10:00
#: in Asia/Shanghai), so two runs, or two machines, produce the same portal
BASE_TIME = datetime(2026, 2, 27, 2, 0, tzinfo=UTC)

#: when the sample accounts were "created": well before the oldest sample item
ACCOUNTS_CREATED = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)


def password_hasher(settings: dict[str, Any]) -> IPasswordHasher:
    """The hasher the portal will verify with (tests configure a cheaper one)."""
    hasher: IPasswordHasher = settings.get("qzt.password_hasher") or Argon2PasswordHasher()
    return hasher


def load_sample_data(db: Session, settings: dict[str, Any], force: bool = False) -> bool:
    """Load the sample data; False (and nothing done) if departments already exist.

    With ``force``, rows whose natural key is free are added and the rest is left
    alone, so forcing twice is harmless. The caller commits.
    """
    if not force and db.scalar(select(Department.id).limit(1)) is not None:
        return False
    # argon2 is slow on purpose: hash once, share the hash among ~200 demo users.
    password_hash = password_hasher(settings).hash(DEMO_PASSWORD)
    departments = load_departments(db)
    leaders = load_leaders(db, departments)
    cast = load_people(db, departments, leaders, password_hash, ACCOUNTS_CREATED)
    load_links(db)
    load_content(db, settings, cast, departments, BASE_TIME)
    load_availability(db)  # 视频交流预约: heads' weekly hours
    load_cases(db, settings, BASE_TIME)  # 诉求: the routing catalogue and sample cases
    db.flush()
    return True


def load_links(db: Session) -> None:
    have = set(db.scalars(select(FriendLink.url)))
    for index, (title, url) in enumerate(LINKS):
        if url not in have:
            db.add(FriendLink(title=title, url=url, sort_order=(index + 1) * 10))
