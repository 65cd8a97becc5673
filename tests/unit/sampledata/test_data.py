"""The sample data's facts hang together before anything touches a database."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from portal.accounts.validation import password_error, phone_error, uscc_error
from portal.content.models import Validity
from portal.industries import INDUSTRIES
from portal.sampledata import DEMO_ACCOUNTS, DEMO_PASSWORD
from portal.sampledata.departments import (
    CATEGORIES,
    DEPARTMENTS,
    LEADERS,
    address_of,
    phone_of,
)
from portal.sampledata.links import LINKS
from portal.sampledata.news import INDUSTRY_NEWS, SERVICE_NEWS
from portal.sampledata.people import department_people, enterprise_uscc, office_people
from portal.sampledata.policies import INTERPRETATIONS, POLICIES
from portal.sampledata.regulations import REGULATIONS
from portal.sampledata.specs import PUBLISHED
from portal.settings import SETTINGS


def staff_min_length() -> int:
    return next(s.default for s in SETTINGS if s.key == "qzt.password.staff_min_length")


def test_58_departments_with_unique_codes_names_and_short_names():
    assert len(DEPARTMENTS) == 58
    assert len({d.code for d in DEPARTMENTS}) == 58
    assert len({d.name for d in DEPARTMENTS}) == 58
    assert len({d.short_name for d in DEPARTMENTS}) == 58
    for dept in DEPARTMENTS:
        assert re.fullmatch(r"[a-z][a-z0-9]{1,9}", dept.code), dept.code
        assert 2 <= len(dept.short_name) <= 5, dept.short_name
        assert dept.category in CATEGORIES
        assert dept.responsibilities.count("。") >= 2, dept.code  # two sentences at least


def test_every_department_has_exactly_one_supervising_vice_mayor():
    vice_mayors = {leader.key for leader in LEADERS if leader.key != "mayor"}
    assert 6 <= len(vice_mayors) <= 7
    assert sum(leader.title == "常务副市长" for leader in LEADERS) == 1
    assert {d.leader for d in DEPARTMENTS} == vice_mayors  # each supervises something


def test_addresses_and_phones_are_distinct_and_valid():
    phones = [phone_of(i) for i in range(len(DEPARTMENTS))]
    assert len(set(phones)) == 58
    assert all(phone_error(p) is None and p.startswith("0750-") for p in phones)
    assert all(address_of(i, d).startswith("江门市") for i, d in enumerate(DEPARTMENTS))


def test_demo_password_meets_the_staff_rule_and_the_enterprise_code_is_valid():
    assert password_error(DEMO_PASSWORD, staff_min_length()) is None
    assert uscc_error(enterprise_uscc()) is None


def test_every_demo_account_exists_and_logins_are_unique():
    people = office_people() + department_people()
    logins = [p.login for p in people] + ["enterprise", "enterprise2"]
    assert len(logins) == len(set(logins))
    assert {login for login, _ in DEMO_ACCOUNTS} <= set(logins)
    heads = Counter(p.department for p in people if p.login.endswith("-head"))
    assert set(heads.values()) == {1}
    assert len(heads) == 58
    staff = Counter(p.department for p in people if "-staff" in p.login)
    assert len(staff) == 58
    assert set(staff.values()) <= {1, 2}


def test_content_volumes_and_states():
    assert 28 <= len(POLICIES) <= 35
    assert len(REGULATIONS) == 30
    assert len(INDUSTRY_NEWS) == len(SERVICE_NEWS) == 25
    assert len(INTERPRETATIONS) == 8
    states = Counter(s.state for s in POLICIES + INDUSTRY_NEWS + SERVICE_NEWS)
    assert states["draft"] >= 1
    assert states["pending"] >= 1


def test_content_refers_to_real_departments_industries_and_keys():
    codes = {d.code for d in DEPARTMENTS}
    specs = POLICIES + INDUSTRY_NEWS + SERVICE_NEWS
    for spec in specs + REGULATIONS:
        assert spec.dept in codes, spec.key
    for spec in specs:
        assert set(spec.industries) <= set(INDUSTRIES), spec.key
    keys = [s.key for s in specs] + [s.key for s in REGULATIONS]
    assert len({(type(s), s.key) for s in specs + REGULATIONS}) == len(keys)
    published_policies = {p.key for p in POLICIES if p.state == PUBLISHED}
    assert {i.policy for i in INTERPRETATIONS} <= published_policies


def test_replaced_documents_are_older_and_no_longer_in_force():
    by_key = {r.key: r for r in REGULATIONS}
    replaced = [r for r in REGULATIONS if r.replaces]
    assert len(replaced) >= 3
    for newer in replaced:
        older = by_key[newer.replaces]
        assert older.validity in (Validity.AMENDED, Validity.REPEALED)
        assert date.fromisoformat(older.published) < date.fromisoformat(newer.published)
        assert newer.validity == Validity.IN_FORCE
    lapsed = {r.key for r in REGULATIONS if r.validity != Validity.IN_FORCE}
    assert lapsed - {r.replaces for r in replaced} == {"housing-fund-deferral"}  # expired alone


def test_regulations_have_well_formed_document_numbers_newest_first():
    numbers = [r.doc_number for r in REGULATIONS]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert re.fullmatch(r"江\w+〔20\d\d〕\d+号|江门市人民政府令第\d+号", number), number
    dates = [r.published for r in REGULATIONS]
    assert dates == sorted(dates, reverse=True)


def test_friend_links_are_https_government_sites():
    assert len(LINKS) == 8
    assert all(url.startswith("https://") and ".gov.cn/" in url for _, url in LINKS)
