"""The rebuild writer writes the index the ordinary writer writes."""

from __future__ import annotations

from datetime import date

from search.interfaces import Document, Query
from search.whoosh_backend import WhooshSearchService

TEXTS = [
    ("个体工商户登记管理办法", "个体工商户应当依法办理登记。登记事项变更的，应当办理变更登记。"),
    ("劳动合同法第四十六条", "有下列情形之一的，用人单位应当向劳动者支付经济补偿。"),
    ("民法典第一千一百四十二条", "遗嘱人可以撤回、变更自己所立的遗嘱。"),
    ("公司法第二十三条", "公司股东滥用公司法人独立地位和股东有限责任，逃避债务。" * 30),
]


def documents() -> list[Document]:
    docs = []
    for n in range(300):  # enough postings for several 128-posting blocks per term
        title, body = TEXTS[n % len(TEXTS)]
        docs.append(
            Document(
                id=f"d{n}",
                title=f"{title}（{n}）",
                body=body + f" 第{n}号",
                url=f"/{n}",
                section="policy" if n % 2 else "regulation",
                date=date(2000 + n % 20, 1, 1),
                doc_number=f"国办发〔{2000 + n % 20}〕{n}号",
            )
        )
    return docs


def build(path: str, bulk: bool) -> WhooshSearchService:
    service = WhooshSearchService(path)
    with service.batch(bulk=bulk, replace=bulk) as batch:
        for doc in documents():
            batch.upsert(doc)
    return service


def test_bulk_and_ordinary_writers_answer_alike(tmp_path):
    ordinary = build(str(tmp_path / "ordinary"), bulk=False)
    bulk = build(str(tmp_path / "bulk"), bulk=True)
    reader_a, reader_b = ordinary._reader().searcher.reader(), bulk._reader().searcher.reader()
    assert sorted(reader_a.all_terms()) == sorted(reader_b.all_terms())
    for field in ("title", "body", "grams", "title_grams"):
        assert reader_a.field_length(field) == reader_b.field_length(field)
        for docnum in (0, 77, 299):
            assert reader_a.doc_field_length(docnum, field) == reader_b.doc_field_length(
                docnum, field
            )
    long_lists = [
        t for t in reader_a.field_terms("grams") if reader_a.doc_frequency("grams", t) > 128
    ]
    assert long_lists  # terms spanning several blocks
    for field, extra in (("body", []), ("grams", long_lists)):
        for term in [*extra, *list(reader_a.field_terms(field))[:400]]:
            a = list(reader_a.postings(field, term).items_as("frequency"))
            b = list(reader_b.postings(field, term).items_as("frequency"))
            assert a == b, (field, term)
    for text in ("公司股东 债务", "劳动者 经济补偿", "国办发〔2007〕27号", "遗嘱 变更"):
        query = Query(text=text, page_size=20)
        got_a = [(h.id, h.score) for h in ordinary.search(query).hits]
        got_b = [(h.id, h.score) for h in bulk.search(query).hits]
        assert got_a == got_b
        assert got_a
