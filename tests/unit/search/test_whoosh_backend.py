"""The whoosh search service on a real index in a temporary directory."""

from __future__ import annotations

from datetime import date

import pytest
from zope.interface.verify import verifyClass, verifyObject

from search import make_service
from search.interfaces import EVERYONE, Document, IIndexBatch, ISearchService, Query
from search.null import NullSearchService
from search.whoosh_backend import WhooshSearchService


@pytest.fixture
def service(tmp_path):
    return WhooshSearchService(str(tmp_path / "index"))


def doc(n: int, title: str, **kw) -> Document:
    return Document(id=f"content:{n}", title=title, url=f"/content/{n}", **kw)


def ids(service, **query) -> list[str]:
    return [hit.id for hit in service.search(Query(**query)).hits]


@pytest.mark.parametrize("cls", [WhooshSearchService, NullSearchService])
def test_services_keep_the_contract(cls, tmp_path):
    assert verifyClass(ISearchService, cls)
    instance = make_service("null" if cls is NullSearchService else "whoosh", str(tmp_path))
    assert verifyObject(ISearchService, instance)
    with instance.batch() as batch:
        assert verifyObject(IIndexBatch, batch)


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown search backend"):
        make_service("elastic", str(tmp_path))


def test_null_finds_nothing():
    null = NullSearchService()
    with null.batch() as batch:
        batch.upsert(doc(1, "营业执照"))
    assert null.search(Query(text="营业执照")).hits == []
    assert null.count() == 0


def test_upsert_replaces_and_delete_removes(service):
    with service.batch() as batch:
        batch.upsert(doc(1, "个体工商户登记管理办法"))
        batch.upsert(doc(2, "公司登记管理条例"))
    with service.batch() as batch:
        batch.upsert(doc(1, "促进个体工商户发展条例"))
    assert service.count() == 2
    assert [h.title for h in service.search(Query(text="个体工商户")).hits] == [
        "促进个体工商户发展条例"
    ]
    with service.batch() as batch:
        batch.delete("content:1")
        batch.delete("content:404")  # a missing one is no error
    assert sorted(service.document_ids()) == ["content:2"]


def test_a_failing_batch_writes_nothing_and_frees_the_lock(service):
    def write_then_fail() -> None:
        with service.batch() as batch:
            batch.upsert(doc(1, "营业执照"))
            raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert service.count() == 0
    with service.batch() as batch:  # the lock was released
        batch.upsert(doc(1, "营业执照"))
    assert service.count() == 1


def test_an_exact_doc_number_comes_first(service):
    with service.batch() as batch:
        # Many documents mention the words; one has the number.
        for n in range(2, 12):
            batch.upsert(doc(n, f"关于促进民间投资的通知（{n}）", body="国办发 民间投资 2017 47号"))
        batch.upsert(
            doc(1, "关于进一步激发民间有效投资活力的指导意见", doc_number="国办发〔2017〕47号")
        )
        batch.upsert(doc(20, "粤办发文件", doc_number="粤办发〔2017〕47号"))
    for typed in (
        "国办发[2017]47号",
        "国办发(2017)47号",
        "国办发2017年47号",
        "请问国办发〔2017〕47号",
        "國辦發〔2017〕47號",
    ):
        assert ids(service, text=typed)[0] == "content:1", typed
    assert ids(service, doc_number="国办发（2017）47号") == ["content:1"]
    assert ids(service, text="民间投资", doc_number="粤办发〔2017〕47号") == ["content:20"]


def test_title_issuer_and_date_range_narrow_the_result(service):
    with service.batch() as batch:
        batch.upsert(doc(1, "税收优惠政策", issuer="国家税务总局", date=date(2020, 5, 1)))
        batch.upsert(
            doc(
                2, "关于小微企业的通知", body="税收优惠政策", issuer="财政部", date=date(2021, 5, 1)
            )
        )
    assert ids(service, text="税收优惠", title="税收优惠") == ["content:1"]
    assert ids(service, text="税收优惠", issuer="税务总局") == ["content:1"]
    assert ids(service, text="税收优惠", date_from=date(2021, 1, 1)) == ["content:2"]
    assert ids(service, text="税收优惠", date_to=date(2020, 12, 31)) == ["content:1"]
    assert ids(service, issuer="财政部") == ["content:2"]  # advanced fields alone


def test_facets_count_every_match_and_filters_apply(service):
    with service.batch() as batch:
        for n in range(6):
            batch.upsert(
                doc(
                    n,
                    f"就业补贴政策{n}",
                    section="policy" if n < 4 else "regulation",
                    department="人社局" if n % 2 else "财政局",
                    status="repealed" if n == 5 else "in_force",
                    superseded=n == 5,
                    date=date(2020 + n % 2, 1, 1),
                )
            )
    results = service.search(Query(text="就业补贴", page_size=2))
    assert results.total == 6
    assert len(results.hits) == 2
    assert results.page_count == 3
    assert results.facets["section"] == [("policy", 4), ("regulation", 2)]
    assert results.facets["department"] == [("人社局", 3), ("财政局", 3)]
    assert results.facets["year"] == [("2021", 3), ("2020", 3)]
    assert results.facets["status"] == [("in_force", 5), ("repealed", 1)]
    narrowed = service.search(Query(text="就业补贴", section="regulation", status="repealed"))
    assert [(h.id, h.superseded) for h in narrowed.hits] == [("content:5", True)]
    assert ids(service, text="就业补贴", year=2021, department="人社局") == [
        "content:1",
        "content:3",
        "content:5",
    ] or sorted(ids(service, text="就业补贴", year=2021)) == ["content:1", "content:3", "content:5"]


def test_sorting_by_date_and_paging(service):
    with service.batch() as batch:
        for n in range(1, 26):
            batch.upsert(doc(n, f"人才引进办法第{n}号", date=date(2000 + n, 1, 1)))
    newest = service.search(Query(text="人才引进", sort="date", page_size=10))
    assert [h.date.year for h in newest.hits][:3] == [2025, 2024, 2023]
    last = service.search(Query(text="人才引进", sort="date", page=3, page_size=10))
    assert [h.date.year for h in last.hits] == [2005, 2004, 2003, 2002, 2001]
    beyond = service.search(Query(text="人才引进", sort="date", page=50, page_size=10))
    assert beyond.page == 3
    assert len(beyond.hits) == 5
    browse = service.search(Query(year=2010))  # a filter alone lists documents
    assert [h.id for h in browse.hits] == ["content:10"]


def test_acl_hides_what_the_principals_may_not_see(service):
    with service.batch() as batch:
        batch.upsert(doc(1, "企业投诉处理情况"))
        batch.upsert(doc(2, "企业投诉：用电问题", allowed=["dept:3"]))
        batch.upsert(doc(3, "企业投诉：用水问题", allowed=["dept:4", "role:supervisor"]))
    assert ids(service, text="企业投诉") == ["content:1"]
    staff = ids(service, text="企业投诉", principals=(EVERYONE, "dept:3"))
    assert sorted(staff) == ["content:1", "content:2"]
    supervisor = ids(service, text="企业投诉", principals=(EVERYONE, "role:supervisor"))
    assert sorted(supervisor) == ["content:1", "content:3"]
    assert ids(service, text="用电", principals=(EVERYONE, "dept:4")) == []


def test_phrases_and_exclusions(service):
    with service.batch() as batch:
        batch.upsert(doc(1, "营业执照办理指南"))
        batch.upsert(doc(2, "执照营业时间"))
        batch.upsert(doc(3, "分公司营业执照办理"))
    assert sorted(ids(service, text='"营业执照"')) == ["content:1", "content:3"]
    assert ids(service, text='"营业执照" -分公司') == ["content:1"]


def test_snippets_and_suggestions(service):
    with service.batch() as batch:
        batch.upsert(doc(1, "高新技术企业认定管理办法", summary="规范高新技术企业认定工作。"))
    hit = service.search(Query(text="高新技术企业")).hits[0]
    assert "<mark>" in hit.snippet
    assert hit.url == "/content/1"
    nothing = service.search(Query(text='"高新技术企业认定管理规定"'))
    assert nothing.total == 0
    assert nothing.suggestion
    assert ids(service, text=nothing.suggestion) == ["content:1"]
    typo = service.search(Query(text="qwertyuiop"))
    assert typo.total == 0
    assert typo.suggestion == ""


def test_rebuild_replaces_everything_at_once(service):
    with service.batch() as batch:
        batch.upsert(doc(1, "旧文件"))
    with service.batch(bulk=True, replace=True) as batch:
        batch.upsert(doc(2, "新文件甲"))
        batch.upsert(doc(3, "新文件乙"))
    assert sorted(service.document_ids()) == ["content:2", "content:3"]
    with service.batch() as batch:  # ordinary writes still index text afterwards
        batch.upsert(doc(4, "新文件丙"))
    assert ids(service, text="新文件丙")[0] == "content:4"
    service.clear()
    assert service.count() == 0


def test_an_index_of_another_schema_version_is_recreated(tmp_path):
    path = str(tmp_path / "index")
    first = WhooshSearchService(path)
    with first.batch() as batch:
        batch.upsert(doc(1, "营业执照"))
    (tmp_path / "index" / "QZT_SCHEMA_VERSION").write_text("0")
    assert WhooshSearchService(path).count() == 0


def test_another_process_sees_a_commit_on_its_next_query(tmp_path):
    path = str(tmp_path / "index")
    reader, writer = WhooshSearchService(path), WhooshSearchService(path)
    assert reader.count() == 0
    with writer.batch() as batch:
        batch.upsert(doc(1, "营业执照"))
    assert ids(reader, text="营业执照") == ["content:1"]
    with writer.batch() as batch:
        batch.upsert(doc(1, "营业执照变更"))
    assert [h.title for h in reader.search(Query(text="营业执照")).hits] == ["营业执照变更"]
