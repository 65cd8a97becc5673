"""Every message the UI can show has a zh_CN translation."""

from __future__ import annotations

from portal.locale import catalog


def test_every_msgid_is_translated_to_chinese():
    assert catalog.missing("zh_CN") == []


def test_placeholders_survive_translation():
    zh = catalog.load("zh_CN")
    for message in zh:
        if not message.id or not message.string:
            continue
        for token in ("${n}", "${count}", "${minutes}", "${ext}", "${limit}", "${state}"):
            if token in message.id:
                assert token in message.string, message.id
