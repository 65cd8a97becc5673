"""The JSON Lines importer: mapping, rejection rules, idempotency, the real data."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from portal.clock import local
from portal.content.importer import (
    MAX_TITLE,
    RecordError,
    import_file,
    map_record,
    summarise,
)
from portal.content.models import ContentItem, Revision, WorkflowEvent

REAL_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "laws" / "laws_national.jsonl"


def record(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": "t-00001",
        "title": "中华人民共和国测试法",
        "subtitle": None,
        "level": "法律",
        "category": "经济法",
        "issuer": "全国人民代表大会常务委员会",
        "province": None,
        "doc_number": "主席令第12号",
        "publish_date": "2021-06-10",
        "valid_from": "2021-09-01",
        "history": [
            {"date": "2021-06-10", "event": "第十三届全国人民代表大会常务委员会第二十九次会议通过"}
        ],
        "superseded": False,
        "body": "第一章 总则\n\n第一条 为了测试导入，制定本法。\n第二条 本法自公布之日起施行。",
        "source_path": "经济法/测试法.md",
        "source": "https://github.com/LawRefBook/Laws/blob/abc/测试法.md",
    }
    base.update(overrides)
    return base


def write_jsonl(path: Path, *lines: Any) -> str:
    """Records are dumped; str and bytes lines are written as they are."""
    with path.open("wb") as out:
        for line in lines:
            if isinstance(line, bytes):
                out.write(line + b"\n")
            elif isinstance(line, str):
                out.write(line.encode("utf-8") + b"\n")
            else:
                out.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
    return str(path)


# -- mapping ----------------------------------------------------------------------------


def test_a_record_maps_onto_the_document_fields():
    source_id, data = map_record(record())

    assert source_id == "t-00001"
    assert data["title"] == "中华人民共和国测试法"
    assert data["issuer"] == "全国人民代表大会常务委员会"
    assert data["doc_number"] == "主席令第12号"
    assert data["publish_date"] == date(2021, 6, 10)
    assert data["effective_date"] == date(2021, 9, 1)
    assert data["validity"] == "in_force"
    assert data["topic"] == "法律"
    assert data["source_url"].startswith("https://github.com/LawRefBook/")
    assert data["body"] == (
        "<p>第一章 总则</p>"
        "<p>第一条 为了测试导入，制定本法。</p>"
        "<p>第二条 本法自公布之日起施行。</p>"
    )
    assert (
        data["summary"]
        == "第一章 总则 第一条 为了测试导入，制定本法。 第二条 本法自公布之日起施行。"
    )


def test_subtitle_joins_the_title_and_superseded_means_amended():
    _, data = map_record(record(subtitle="物权编", superseded=True, level=None))
    assert data["title"] == "中华人民共和国测试法（物权编）"
    assert data["validity"] == "amended"
    assert data["topic"] == "经济法"  # the category when there is no level


def test_body_text_is_escaped_not_interpreted():
    _, data = map_record(record(body='第一条 <script>alert("x")</script> & 其他'))
    assert "<script>" not in data["body"]
    assert "&lt;script&gt;" in data["body"]
    assert "&amp;" in data["body"]


def test_summary_is_the_first_120_characters_on_one_line():
    text = "第一条\n" + "字" * 300
    summary = summarise(text)
    assert len(summary) == 121
    assert summary.endswith("…")
    assert "\n" not in summary
    assert summarise("短文本\n第二行") == "短文本 第二行"


def test_missing_optional_fields_become_empty_not_errors():
    _, data = map_record(
        record(doc_number=None, valid_from=None, issuer="", source=None, level=None, category=None)
    )
    assert data["doc_number"] is None
    assert data["effective_date"] is None
    assert data["issuer"] is None
    assert data["source_url"] is None
    assert data["topic"] is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (["a", "list"], "not a JSON object"),
        (record(id=None), "no id"),
        (record(id="  "), "no id"),
        (record(title=""), "no title"),
        (record(body="\n \n"), "no body"),
        (record(title=42), "title is not text"),
        (record(publish_date="2021/06/10"), "publish_date is not a date"),
        (record(publish_date="2024-02-30"), "publish_date is not a date"),
        (record(valid_from=20210901), "valid_from is not a date"),
        (record(title="法" * (MAX_TITLE + 1)), "title too long (301 characters"),
        (record(title="法" * 290, subtitle="第一编" * 5), "title too long"),
        (record(doc_number="号" * 101), "doc_number longer than 100"),
        (record(id="x" * 101), "id longer than 100"),
        (record(superseded="yes"), "superseded is not true or false"),
        (record(source="javascript:alert(1)"), "source is not an http(s) URL"),
        (record(body="第一条\x00"), "body contains a NUL character"),
    ],
)
def test_bad_records_are_refused_with_a_reason(raw, reason):
    with pytest.raises(RecordError) as caught:
        map_record(raw)
    assert reason in str(caught.value)


# -- importing --------------------------------------------------------------------------


def count_items(dbsession) -> int:
    return dbsession.scalar(select(func.count()).select_from(ContentItem))


def test_import_publishes_with_history_and_rejects_bad_lines(dbsession, settings, tmp_path):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        record(id="t-1"),
        "{not json",
        b'{"id": "t-bad-bytes", "title": "\xff\xfe"}',
        "",  # blank lines are skipped, not rejected
        record(id="t-2", title=None),
        record(id="t-3", publish_date="2021-13-01"),
        record(id="t-4", title="长" * 400),
        record(id="t-1", title="同一编号再次出现"),
        record(id="t-5", doc_number="国发[2021]7号", superseded=True),
    )

    report = import_file(dbsession, settings, path, section="regulation")

    assert (report.read, report.created, report.updated, report.unchanged) == (8, 2, 0, 0)
    assert not report.ok
    assert report.rejections == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        "line 3: not UTF-8 text",
        "line 5 (t-2): no title",
        "line 6 (t-3): publish_date is not a date (YYYY-MM-DD): '2021-13-01'",
        "line 7 (t-4): title too long (400 characters, at most 300)",
        "line 8 (t-1): duplicate id, first seen on line 1",
    ]
    assert "2 created" in report.summary()
    assert "6 rejected" in report.summary()

    first = dbsession.scalar(select(ContentItem).where(ContentItem.source_id == "t-1"))
    assert first.section == "regulation"
    assert first.state == "published"
    assert local(first.published_at).date() == date(2021, 6, 10)
    assert first.created_by_id is None
    assert first.version == 1
    events = dbsession.scalars(
        select(WorkflowEvent.transition)
        .where(WorkflowEvent.content_id == first.id)
        .order_by(WorkflowEvent.id)
    ).all()
    assert events == ["created", "submit", "publish"]
    assert dbsession.scalar(select(func.count()).where(Revision.content_id == first.id)) == 1

    fifth = dbsession.scalar(select(ContentItem).where(ContentItem.source_id == "t-5"))
    assert fifth.doc_number == "国发[2021]7号"
    assert fifth.doc_number_key == "国发〔2021〕7号"
    assert fifth.validity == "amended"


def test_draft_import_leaves_items_unpublished(dbsession, settings, tmp_path):
    path = write_jsonl(tmp_path / "drafts.jsonl", record(id="d-1"), record(id="d-2"))

    report = import_file(dbsession, settings, path, section="policy", publish=False)

    assert report.ok
    assert report.created == 2
    items = dbsession.scalars(select(ContentItem).where(ContentItem.source_id.like("d-%"))).all()
    assert {(i.section, i.state, i.published_at) for i in items} == {("policy", "draft", None)}
    assert [e.transition for e in items[0].history] == ["created"]


def test_importing_twice_updates_instead_of_duplicating(dbsession, settings, tmp_path):
    records = [record(id=f"r-{n}", title=f"测试条例{n}") for n in range(3)]
    path = write_jsonl(tmp_path / "laws.jsonl", *records)
    import_file(dbsession, settings, path, section="regulation")
    before = count_items(dbsession)

    again = import_file(dbsession, settings, path, section="regulation")
    assert (again.created, again.updated, again.unchanged, again.ok) == (0, 0, 3, True)

    records[1]["body"] = "第一条 修改后的条文。"
    records[2]["superseded"] = True
    changed = import_file(
        dbsession, settings, write_jsonl(tmp_path / "v2.jsonl", *records), "regulation"
    )

    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 1)
    assert count_items(dbsession) == before
    second = dbsession.scalar(select(ContentItem).where(ContentItem.source_id == "r-1"))
    assert second.body == "<p>第一条 修改后的条文。</p>"
    assert second.version == 2
    assert [r.version for r in second.revisions] == [2, 1]
    assert second.state == "published"  # an update never touches the workflow


def test_a_record_already_in_another_section_is_refused(dbsession, settings, tmp_path):
    path = write_jsonl(tmp_path / "one.jsonl", record(id="s-1"))
    import_file(dbsession, settings, path, section="regulation")

    report = import_file(dbsession, settings, path, section="policy")

    assert report.rejections == ["line 1 (s-1): already imported into section regulation"]


REFUSE = {
    "sqlite": [
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON content_items "
        "WHEN NEW.title = '数据库拒收' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION qzt_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.title = '数据库拒收' THEN "
        "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON content_items "
        "FOR EACH ROW EXECUTE FUNCTION qzt_test_refuse()",
    ],
}


def test_a_row_the_database_refuses_costs_only_that_record(dbsession, settings, tmp_path):
    # A trigger stands in for whatever a database may refuse that the checks let through;
    # it goes away with the test's transaction (DDL is transactional in both databases).
    for statement in REFUSE[dbsession.bind.dialect.name]:
        dbsession.execute(text(statement))
    path = write_jsonl(
        tmp_path / "refused.jsonl",
        record(id="ok-1"),
        record(id="no-1", title="数据库拒收"),
        record(id="ok-2"),
    )

    report = import_file(dbsession, settings, path, section="regulation")

    assert report.created == 2
    assert report.rejections == ["line 2 (no-1): not saved: IntegrityError"]
    saved = dbsession.scalars(
        select(ContentItem.source_id).where(ContentItem.source_id.like("%-_"))
    )
    assert sorted(saved) == ["ok-1", "ok-2"]


def test_limit_stops_after_n_records(dbsession, settings, tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", *[record(id=f"l-{n}") for n in range(5)])
    report = import_file(dbsession, settings, path, section="industry", limit=2)
    assert (report.read, report.created) == (2, 2)


def test_a_missing_file_is_reported_not_raised(dbsession, settings, tmp_path):
    report = import_file(dbsession, settings, str(tmp_path / "absent.jsonl"), section="regulation")
    assert not report.ok
    assert report.read == 0
    assert "cannot read" in report.rejections[0]


def test_the_first_200_national_laws_import_cleanly(dbsession, settings):
    if not REAL_DATA.exists():
        pytest.skip(f"real data not present at {REAL_DATA}")

    report = import_file(dbsession, settings, str(REAL_DATA), section="regulation", limit=200)

    assert (report.read, report.created, report.rejected) == (200, 200, 0), report.rejections[:5]
    criminal_law = dbsession.scalar(
        select(ContentItem).where(ContentItem.source_id == "lrb-n00001")
    )
    assert criminal_law.title == "中华人民共和国刑法"
    assert criminal_law.body.startswith("<p>第一编 总则</p><p>第一章")
    assert criminal_law.source_url.startswith("https://github.com/LawRefBook/Laws/")
    with_numbers = dbsession.scalar(
        select(func.count()).where(
            ContentItem.source_id.like("lrb-n%"), ContentItem.doc_number_key.is_not(None)
        )
    )
    assert with_numbers > 0
