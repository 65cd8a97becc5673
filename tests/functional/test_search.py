"""Searching the portal: editors publish, visitors find, the index follows every change.

These journeys run on an app of their own with its own index directory, so what other
tests index cannot change the counts asserted here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import transaction
import webtest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import main
from portal.content.models import ContentItem
from portal.roles import Role
from portal.searching.models import SearchOutbox
from tests import factories


@pytest.fixture(scope="module")
def search_app(settings: dict[str, Any], engine: Any, tmp_path_factory: Any) -> Any:
    index_dir = str(tmp_path_factory.mktemp("search-index"))
    return main(
        {},
        **{
            **settings,
            "qzt.engine": engine,
            "qzt.search.index_dir": index_dir,
            "qzt.search.drain_interval": 0,
            "qzt.page_cache.entries": 0,
        },
    )


@pytest.fixture
def app_index(search_app: Any) -> Iterator[Any]:
    """The app's search service, emptied after each test (the database rolls back)."""
    service = search_app.registry["search_indexer"].service
    yield service
    service.clear()


@pytest.fixture
def web(search_app: Any, tm: transaction.TransactionManager, dbsession: Session, app_index: Any):
    return webtest.TestApp(
        search_app,
        extra_environ={
            "HTTP_HOST": "localhost",
            "tm.active": True,
            "tm.manager": tm,
            "qzt.dbsession": dbsession,
        },
    )


def sign_in(web: webtest.TestApp, user: Any) -> None:
    web.reset()
    form = web.get("/login").forms["login"]
    form["login"], form["password"] = user.login, factories.PASSWORD
    form.submit("submit")


def transition(web: webtest.TestApp, item_id: int, name: str, comment: str = "") -> None:
    page = web.get(f"/manage/content/{item_id}/edit")
    form = page.forms[f"transition-{name}-{item_id}"]
    if "comment" in form.fields:
        form["comment"] = comment
    form.submit().follow()


def add_regulation(web: webtest.TestApp, dbsession: Session, **fields: str) -> ContentItem:
    form = web.get("/manage/add/regulation").forms["content"]
    for name, value in fields.items():
        form[name] = value
    form.submit("save").follow()
    return dbsession.scalars(select(ContentItem).where(ContentItem.title == fields["title"])).one()


def hits(web: webtest.TestApp, **params: Any) -> list[dict[str, Any]]:
    return list(web.get("/search.json", params=params).json["hits"])


def titles(web: webtest.TestApp, **params: Any) -> list[str]:
    return [h["title"] for h in hits(web, **params)]


def test_published_regulation_is_found_and_follows_edits_and_archiving(web, dbsession):
    office = factories.DepartmentFactory(name="市人民政府办公室")
    writer = factories.UserFactory(roles=[Role.EDITOR])
    boss = factories.UserFactory(roles=[Role.REVIEWER])
    sign_in(web, writer)
    item = add_regulation(
        web,
        dbsession,
        title="国务院办公厅关于进一步激发民间有效投资活力促进经济持续健康发展的指导意见",
        summary="鼓励民间资本参与基础设施建设。",
        body="<p>各省、自治区、直辖市人民政府：民间投资是促进经济增长的重要力量。</p>",
        department_id=str(office.id),
        doc_number="国办发〔2017〕79号",
        publish_date="2017-09-15",
        validity="in_force",
    )
    transition(web, item.id, "submit")

    # A draft or a submission is not searchable.
    assert titles(web, q="民间投资") == []

    sign_in(web, boss)
    transition(web, item.id, "publish")
    web.reset()  # a visitor

    # Words, every bracket form of the 文号, and the advanced 文号 field find it.
    for q in ("民间投资", "国办发〔2017〕79号", "国办发[2017]79号", "国办发(2017)79号",
              "国办发2017年79号", "國辦發〔2017〕79號"):  # fmt: skip
        assert titles(web, q=q)[:1] == [item.title], q
    assert titles(web, doc_number="国办发（2017）79号") == [item.title]
    found = hits(web, q="民间投资")[0]
    assert found["url"] == f"/content/{item.id}"
    assert found["doc_number"] == "国办发〔2017〕79号"
    assert "<mark>民间投资</mark>" in found["snippet"]

    # The reviewer corrects the title: the index has the new one at once.
    sign_in(web, boss)
    edit = web.get(f"/manage/content/{item.id}/edit").forms["content"]
    edit["title"] = "关于激发民间有效投资活力的指导意见"
    edit.submit("save").follow()
    web.reset()
    assert titles(web, q="国办发〔2017〕79号") == ["关于激发民间有效投资活力的指导意见"]

    # Archived, it disappears from search.
    sign_in(web, boss)
    transition(web, item.id, "archive")
    web.reset()
    assert titles(web, q="民间投资") == []
    assert dbsession.scalars(select(SearchOutbox)).all() == []  # every change was applied


@pytest.fixture
def publish(search_app: Any, dbsession: Session, tm: transaction.TransactionManager) -> Any:
    """``publish(**fields)``: an item written by factories, reported the way
    ContentService reports a change, and committed through the transaction manager
    (the test's outer transaction still rolls everything back)."""

    def publish_one(**fields: Any) -> ContentItem:
        item = factories.ContentItemFactory(**fields)
        dbsession.flush()
        search_app.registry["search_indexer"].enqueue(dbsession, item.id)
        tm.commit()  # after_commit: the item is indexed now
        tm.begin()
        return item

    return publish_one


def test_search_page_shows_snippets_facets_sorting_and_pagination(web, publish):
    tax = factories.DepartmentFactory(name="市税务局")
    market = factories.DepartmentFactory(name="市市场监督管理局")
    from datetime import date

    for n in range(12):
        publish(
            title=f"小微企业所得税优惠政策问答（第{n + 1}期）",
            summary=f"小型微利企业减按25%计入应纳税所得额，第{n + 1}期。",
            section="policy",
            department=tax if n % 3 else market,
            publish_date=date(2020 + n % 3, 3, 1),
            validity="in_force",
        )
    publish(
        title="个体工商户登记管理办法（已废止）",
        summary="个体工商户的登记。",
        section="regulation",
        department=market,
        publish_date=date(2011, 9, 30),
        validity="repealed",
    )

    page = web.get("/search", params={"q": "小微企业 所得税"})
    assert "12" in page.html.select_one("p.count").get_text()
    assert len(page.html.select("ol.hits > li")) == 10
    assert page.html.select("ol.hits mark")  # highlighted snippets
    facets = {
        section["class"][-1]: [li.get_text(" ", strip=True) for li in section.select("li")]
        for section in page.html.select("aside.facets section")
    }
    assert facets["facet-department"] == ["市税务局 8", "市市场监督管理局 4"]
    assert facets["facet-year"] == ["2022 4", "2021 4", "2020 4"]
    assert facets["facet-section"] == ["涉企政策 12"]

    # Page 2 holds the last two; a page past the end shows the last page.
    assert (
        len(web.get("/search", params={"q": "小微企业", "page": 2}).html.select("ol.hits > li"))
        == 2
    )
    assert web.get("/search.json", params={"q": "小微企业", "page": 99}).json["page"] == 2

    # A facet link narrows the result; sorting by date puts 2022 first.
    link = page.html.select_one("aside .facet-department a")["href"]
    narrowed = web.get(link)
    assert "8" in narrowed.html.select_one("p.count").get_text()
    newest = hits(web, q="小微企业", sort="date")
    assert [h["date"][:4] for h in newest[:4]] == ["2022"] * 4

    # A date range and a year filter.
    assert len(hits(web, q="小微企业", date_from="2021-01-01", date_to="2021-12-31")) == 4
    assert len(hits(web, q="小微企业", year=2020)) == 4

    # A repealed document is marked.
    old = web.get("/search", params={"q": "个体工商户登记"})
    assert old.html.select_one("ol.hits .superseded").get_text(strip=True) == "已废止"


def test_bad_input_gets_a_friendly_answer(web, publish):
    publish(title="关于支持企业吸纳就业的通知", summary="稳岗补贴。")

    empty = web.get("/search", params={"q": "   "})
    assert empty.status_int == 200
    assert "国办发〔2017〕47号" in empty.text
    assert web.get("/search.json", params={"q": ""}, status=400).json["errors"]["q"]

    huge = web.get("/search", params={"q": "就业" * 3000})
    assert huge.status_int == 200
    assert "200" in huge.html.select_one("p.flash").get_text()

    for broken in ('"稳岗补贴', "稳岗 AND OR NOT", "((就业", "就业 -", "*?:^~", '"" -"', "\\"):
        page = web.get("/search", params={"q": broken})
        assert page.status_int == 200, broken
        assert web.get("/search.json", params={"q": broken}).status_int == 200, broken
    assert "引号" in web.get("/search", params={"q": '"稳岗补贴'}).text  # unbalanced quote notice

    only_stopwords = web.get("/search", params={"q": "怎么 如何 是否 吗"})
    assert only_stopwords.html.select_one("p.flash")

    bad = web.get("/search", params={"q": "就业", "date_from": "2024-13-45", "section": "x"})
    assert bad.html.select_one("#error-date_from")
    assert bad.html.select_one("#error-section")
    assert bad.html.select("ol.hits > li a")  # the rest of the search still ran
    errors = web.get("/search.json", params={"q": "就业", "date_to": "昨天"}, status=400).json
    assert "date_to" in errors["errors"]
    reversed_range = {"q": "就业", "date_from": "2024-02-01", "date_to": "2024-01-01"}
    assert "date_to" in web.get("/search.json", params=reversed_range, status=400).json["errors"]


def test_nothing_found_suggests_something(web, publish):
    publish(title="高新技术企业认定管理办法", summary="认定。")
    page = web.get("/search", params={"q": '"高新技术企业认定管理规定"'})
    assert "0" in page.html.select_one("p.count").get_text()
    suggestion = page.html.select_one("p.suggestion a")
    assert suggestion is not None
    assert titles(web, q=suggestion.get_text()) == ["高新技术企业认定管理办法"]


def test_every_page_has_a_search_box(web):
    home = web.get("/")
    form = home.html.select_one("header form[role=search]")
    assert form["action"] == "/search"
    assert form.select_one("input[name=q]")


def test_null_backend_answers_nothing_found(settings, engine, tmp_path):
    app = main({}, **{**settings, "qzt.engine": engine, "qzt.search.backend": "null"})
    page = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}).get(
        "/search", params={"q": "营业执照"}
    )
    assert page.status_int == 200
    assert page.html.select_one("ol.hits li.empty")
    assert not os.path.exists(os.path.join(tmp_path, "index"))


def test_a_configured_term_model_finds_statute_wording(settings, engine, tmp_path):
    """``qzt.search.term_model`` names a model built by ``python -m search.termmodel``;
    /search.json then answers a layperson's words with the article's own wording."""
    from search import termmodel
    from search.interfaces import Document

    wages = ("劳动合同法第三十条", "用人单位应当向劳动者及时足额支付劳动报酬。")
    other = ("森林法第二十条", "国有林业企业营造的林木，由营造单位管护。")
    more = [("种子法第三条", "主管全国农作物种子工作。"), ("商标法第三条", "注册商标受法律保护。")]
    pairs = [termmodel.Pair("老板拖着不给钱", [wages])]
    model = termmodel.learn(pairs, termmodel.corpus_shares([wages, other, *more]))
    model.save(str(tmp_path / "terms.json.gz"))
    app = main(
        {},
        **{
            **settings,
            "here": str(tmp_path),
            "qzt.engine": engine,
            "qzt.search.index_dir": "index",
            "qzt.search.term_model": "terms.json.gz",  # relative to the .ini's directory
            "qzt.search.drain_interval": 0,
            "qzt.page_cache.entries": 0,
        },
    )
    service = app.registry["search_indexer"].service
    with service.batch() as batch:
        for n, (title, body) in enumerate([wages, other]):
            batch.upsert(Document(id=f"content:{n}", title=title, body=body, url=f"/c/{n}"))
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    found = client.get("/search.json", params={"q": "老板一直不给钱"}).json
    assert [h["title"] for h in found["hits"]][:1] == ["劳动合同法第三十条"]
