"""A fresh portal: seed the sample data, sign in as each kind of user, browse what the
seed published, and load real documents with ``qzt import``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from portal import cli
from portal.accounts.models import User, UserRole
from portal.content.models import ContentItem
from portal.departments.models import Department, Leader, leader_departments
from portal.links.models import FriendLink
from portal.roles import Role
from portal.sampledata import DEMO_ACCOUNTS, DEMO_PASSWORD, load_sample_data
from portal.searching import build_indexer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(dbsession: Any, settings: dict[str, Any]) -> Any:
    assert load_sample_data(dbsession, settings) is True
    return dbsession


def count(db: Any, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model))


def by_login(db: Any, login: str) -> User:
    return db.scalar(select(User).where(User.login == login))


def item(db: Any, section: str, key: str) -> ContentItem:
    return db.scalar(select(ContentItem).where(ContentItem.source_id == f"sample:{section}:{key}"))


def test_the_seed_builds_the_city_once(seeded, settings):
    db = seeded
    assert count(db, Department) == 58
    supervisors = db.execute(
        select(leader_departments.c.department_id, func.count())
        .join(Leader, Leader.id == leader_departments.c.leader_id)
        .where(Leader.is_mayor.is_(False))
        .group_by(leader_departments.c.department_id)
    ).all()
    assert len(supervisors) == 58
    assert {n for _, n in supervisors} == {1}
    heads = db.scalars(
        select(User.department_id).join(UserRole).where(UserRole.role == Role.HEAD.value)
    ).all()
    assert sorted(heads) == sorted(db.scalars(select(Department.id)))
    mayor = db.scalar(select(Leader).where(Leader.is_mayor.is_(True)))
    assert db.get(User, mayor.user_id).login == "mayor"
    leader_accounts = db.scalars(select(User).join(Leader, Leader.user_id == User.id)).all()
    assert len(leader_accounts) == count(db, Leader) == 8
    assert all(account.has_role(Role.LEADER) for account in leader_accounts)
    assert count(db, FriendLink) == 8

    sizes = dict(
        db.execute(
            select(ContentItem.section, func.count())
            .where(ContentItem.state == "published")
            .group_by(ContentItem.section)
        ).all()
    )
    assert sizes == {
        "policy": 30,
        "regulation": 30,
        "industry": 24,
        "service": 24,
        "interpretation": 8,
    }
    states = set(db.scalars(select(ContentItem.state)))
    assert {"draft", "pending"} <= states  # something waits on the editor's dashboard
    editor = by_login(db, "editor")
    assert set(db.scalars(select(ContentItem.created_by_id))) == {editor.id}

    before = (count(db, User), count(db, ContentItem), count(db, Department))
    # Already there: nothing is done, so not even the settings are looked at.
    assert load_sample_data(db, {}) is False
    assert load_sample_data(db, settings, force=True) is True
    assert (count(db, User), count(db, ContentItem), count(db, Department)) == before


def test_every_demo_account_signs_in_through_the_login_form(seeded, testapp, login):
    logins = [name for name, _ in DEMO_ACCOUNTS] + ["vice-mayor4", "tax-head", "gaj-staff1"]
    for name in logins:
        testapp.reset()
        response = login(by_login(seeded, name), DEMO_PASSWORD)
        assert response.status_int == 303, name
        assert "/login" not in response.location, name
        assert name in testapp.get("/account").text


def test_a_wrong_password_is_refused_for_a_demo_account(seeded, testapp, login):
    page = login(by_login(seeded, "fgj-head"), "not-the-demo-password")
    assert page.status_int == 200
    assert "/account" not in page.request.url
    testapp.get("/account", status=303)


def test_the_home_page_fills_all_four_columns(seeded, testapp, settings):
    page = testapp.get("/")
    per_column = settings["qzt.home.items_per_column"]
    for section in ("policy", "regulation", "industry", "service"):
        column = page.html.find("section", attrs={"aria-labelledby": f"col-{section}"})
        entries = [li for li in column.select("li") if "empty" not in (li.get("class") or [])]
        assert len(entries) == per_column, section
        newest = seeded.scalar(
            select(ContentItem.title)
            .where(ContentItem.section == section, ContentItem.state == "published")
            .order_by(ContentItem.published_at.desc())
        )
        assert newest in column.text
    assert "发改局" in page.text
    assert "信用中国" in page.text


def test_an_amended_regulation_points_to_its_replacement(seeded, testapp):
    old = item(seeded, "regulation", "private-2023")
    new = item(seeded, "regulation", "private-2025")
    assert (old.validity, old.replaced_by_id, old.version) == ("amended", new.id, 2)

    page = testapp.get(f"/content/{old.id}")

    banner = page.html.select_one(".validity-banner")
    assert banner is not None
    assert new.title in banner.text
    assert "江府〔2023〕8号" in page.text
    assert "江门市人民政府" in page.text


def test_the_editor_sees_the_history_of_what_she_wrote(seeded, testapp, login):
    policy = item(seeded, "policy", "digital")
    login(by_login(seeded, "editor"), DEMO_PASSWORD)

    page = testapp.get(f"/content/{policy.id}")

    history = page.html.select_one("section.history")
    assert history is not None
    rows = history.select("tbody tr")
    assert len(rows) == 3  # created, submitted, published
    assert "何嘉欣" in rows[0].text
    assert "郑文博" in rows[2].text


def test_an_interpretation_and_its_policy_link_both_ways(seeded, testapp):
    policy = item(seeded, "policy", "digital")
    explained = item(seeded, "interpretation", "digital-qa")
    assert explained.interprets_id == policy.id

    assert policy.title in testapp.get(f"/content/{explained.id}").text
    assert explained.title in testapp.get(f"/content/{policy.id}").text


def test_the_directory_lists_every_department_with_its_supervising_leader(seeded, testapp):
    page = testapp.get("/departments")

    cards = page.html.select(".dept-cards li")
    assert len(cards) == 58
    fgj = next(card for card in cards if "市发展和改革局" in card.text)
    assert "陈立群" in fgj.text  # the 常务副市长 supervises 发改


# -- the command line, end to end on a scratch database --------------------------------


def test_migrate_seed_and_import_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QZT_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite")
    monkeypatch.setenv("QZT_STORAGE_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("QZT_SEARCH_INDEX_DIR", str(tmp_path / "index"))
    ini = str(ROOT / "development.ini")
    laws = tmp_path / "laws.jsonl"
    good = {
        "id": "cli-1",
        "title": "测试条例",
        "body": "第一条 内容。",
        "publish_date": "2024-01-02",
    }
    laws.write_text(json.dumps(good, ensure_ascii=False) + "\n{broken\n", encoding="utf-8")

    assert cli.main(["--ini", ini, "migrate"]) == 0
    assert cli.main(["--ini", ini, "seed"]) == 0
    assert cli.main(["--ini", ini, "seed"]) == 0
    status = cli.main(["--ini", ini, "import", str(laws), "--section", "regulation"])
    assert cli.main(["--ini", ini, "demo-accounts"]) == 0

    out = capsys.readouterr().out
    assert "sample data loaded" in out
    assert "already present" in out
    assert status == 1  # one line was rejected
    assert "1 created" in out
    assert "rejected: line 2: not valid JSON" in out
    assert DEMO_PASSWORD in out
    assert "fgj-head" in out
    assert "search index updated for 1 items" in out
    indexed = build_indexer(cli.load_settings(ini)).service
    imported = cli_imported_id(tmp_path)
    assert f"content:{imported}" in set(indexed.document_ids())


def cli_imported_id(tmp_path) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path}/cli.sqlite")
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM content_items WHERE source_id = 'cli-1'"))
        ident = int(found.scalar_one())
    engine.dispose()
    return ident
