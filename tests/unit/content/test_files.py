"""Attachment checks: magic bytes per format, zip-bomb limits, safe names, local storage."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from portal.content import files
from portal.content.files import FORMATS, LocalFileStorage, check_format, safe_filename
from portal.errors import InputError

OLE_FILE = files.OLE + b"\x00" * 504
SAMPLES: dict[str, bytes] = {
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "doc": OLE_FILE,
    "xls": OLE_FILE,
    "ppt": OLE_FILE,
    "wps": OLE_FILE,
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17,
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "jpeg": b"\xff\xd8\xff\xdb\x00\x43\x00",
    "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
}
ZIP_MEMBERS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml",
               "pptx": "ppt/presentation.xml", "ofd": "OFD.xml"}  # fmt: skip


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write(tmp_path, data: bytes, name: str = "f") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def message(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    return excinfo.value.message


def test_every_accepted_format_has_a_sample_here():
    assert set(FORMATS) == set(SAMPLES) | set(ZIP_MEMBERS)


@pytest.mark.parametrize("ext", sorted(SAMPLES))
def test_a_genuine_file_is_recognised_by_its_magic_bytes(tmp_path, ext):
    fmt = check_format(f"通知.{ext.upper()}", write(tmp_path, SAMPLES[ext]))
    assert fmt is FORMATS[ext]


@pytest.mark.parametrize("ext", sorted(ZIP_MEMBERS))
def test_a_genuine_office_or_ofd_file_is_recognised_by_its_zip_member(tmp_path, ext):
    data = zipped({"[Content_Types].xml": b"<Types/>", ZIP_MEMBERS[ext]: b"<x/>" * 50})
    assert check_format(f"a.{ext}", write(tmp_path, data)) is FORMATS[ext]


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_html_under_any_accepted_name_is_refused(tmp_path, ext):
    path = write(tmp_path, b"<!DOCTYPE html><script>alert(1)</script>")
    with pytest.raises(InputError) as excinfo:
        check_format(f"a.{ext}", path)
    assert message(excinfo) == "The file's content does not match its extension .${ext}."
    assert excinfo.value.mapping == {"ext": ext}
    assert excinfo.value.field == "upload"


def test_a_png_named_pdf_is_refused(tmp_path):
    with pytest.raises(InputError):
        check_format("a.pdf", write(tmp_path, SAMPLES["png"]))


def test_a_zip_of_the_wrong_office_type_is_refused(tmp_path):
    xlsx = zipped({"xl/workbook.xml": b"<workbook/>"})
    with pytest.raises(InputError) as excinfo:
        check_format("a.docx", write(tmp_path, xlsx))
    assert excinfo.value.mapping == {"ext": "docx"}


def test_a_damaged_zip_is_refused(tmp_path):
    with pytest.raises(InputError) as excinfo:
        check_format("a.docx", write(tmp_path, files.ZIP + b"\x00" * 100))
    assert message(excinfo) == "The file is damaged and cannot be opened."


def test_a_highly_compressed_member_is_a_zip_bomb(tmp_path):
    bomb = zipped({"word/document.xml": b"<w/>", "word/media/x.bin": b"\x00" * (5 << 20)})
    assert len(bomb) < 100_000
    with pytest.raises(InputError) as excinfo:
        check_format("a.docx", write(tmp_path, bomb))
    assert message(excinfo) == "The file expands to an unreasonable size and was refused."


def test_too_many_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_ZIP_MEMBERS", 10)
    many = zipped(
        {"word/document.xml": os.urandom(64)} | {f"m{i}": os.urandom(64) for i in range(10)}
    )
    with pytest.raises(InputError):
        check_format("a.docx", write(tmp_path, many))


def test_too_much_uncompressed_data_is_refused_even_at_a_plausible_ratio(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_ZIP_UNCOMPRESSED", 10_000)
    data = zipped({"word/document.xml": os.urandom(20_000)})  # incompressible: ratio ≈ 1
    with pytest.raises(InputError):
        check_format("a.docx", write(tmp_path, data))


@pytest.mark.parametrize("name", ["setup.exe", "page.html", "noextension", "archive.zip"])
def test_unlisted_types_are_refused_with_the_accepted_list(tmp_path, name):
    with pytest.raises(InputError) as excinfo:
        check_format(name, write(tmp_path, SAMPLES["pdf"]))
    assert message(excinfo) == "Files of type .${ext} are not accepted. Accepted: ${accepted}."
    assert "pdf" in str(excinfo.value.mapping["accepted"])


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("通知.pdf", "通知.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\王\\附件1.docx", "附件1.docx"),
        ("a\x00b\x1fc.pdf", "abc.pdf"),
        ('<b>"x"|y?*:.pdf', "bxy.pdf"),
        ("..", "attachment"),
        ("  .hidden.pdf. ", "hidden.pdf"),
        ("", "attachment"),
        ("长" * 300 + ".pdf", "长" * 200),
    ],
)
def test_safe_filename_keeps_only_a_harmless_display_name(raw, safe):
    assert safe_filename(raw) == safe


def test_local_storage_saves_under_a_random_key_with_size_and_digest(tmp_path):
    storage = LocalFileStorage(str(tmp_path))
    key, size, digest = storage.save(io.BytesIO(b"hello"), 100)
    again, _, _ = storage.save(io.BytesIO(b"hello"), 100)
    assert key != again
    assert len(key) == 32
    assert size == 5
    assert digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    with open(storage.path(key), "rb") as handle:
        assert handle.read() == b"hello"
    storage.delete(key)
    storage.delete(key)  # already gone: not an error
    assert not os.path.exists(storage.path(key))


def test_local_storage_refuses_an_oversize_stream_and_keeps_nothing(tmp_path):
    storage = LocalFileStorage(str(tmp_path))
    with pytest.raises(InputError) as excinfo:
        storage.save(io.BytesIO(b"x" * (3 << 20)), 2 << 20)
    assert excinfo.value.mapping == {"limit": 2}
    assert [f for _d, _s, fs in os.walk(tmp_path) for f in fs] == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 32, "0" * 31, ""])
def test_local_storage_accepts_only_its_own_keys(tmp_path, key):
    with pytest.raises(ValueError, match="bad storage key"):
        LocalFileStorage(str(tmp_path)).path(key)
