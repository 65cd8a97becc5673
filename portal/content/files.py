"""Attachment checks (pure) and storage (behind an interface).

Why check content and not trust the browser's Content-Type: an upload named
``通知.pdf`` that is really HTML would be served to other users. We accept a short
list of formats, identify each by its magic bytes, and for the zip-based Office and
OFD formats walk the zip directory to refuse zip bombs before anyone opens them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from zope.interface import Interface, implementer

from portal.errors import InputError

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class Format:
    media_type: str
    magic: tuple[bytes, ...]
    #: for zip containers, a member every genuine file of this type has
    zip_member: str | None = None


FORMATS: dict[str, Format] = {
    "pdf": Format("application/pdf", (b"%PDF-",)),
    "doc": Format("application/msword", (OLE,)),
    "xls": Format("application/vnd.ms-excel", (OLE,)),
    "ppt": Format("application/vnd.ms-powerpoint", (OLE,)),
    "wps": Format("application/vnd.ms-works", (OLE,)),
    "docx": Format(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (ZIP,),
        "word/document.xml",
    ),
    "xlsx": Format(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (ZIP,),
        "xl/workbook.xml",
    ),
    "pptx": Format(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (ZIP,),
        "ppt/presentation.xml",
    ),
    "ofd": Format("application/ofd", (ZIP,), "OFD.xml"),
    "png": Format("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": Format("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": Format("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": Format("image/gif", (b"GIF87a", b"GIF89a")),
}

MAX_ZIP_MEMBERS = 2000
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ZIP_RATIO = 100


def extension_of(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def safe_filename(filename: str) -> str:
    """The name shown and offered on download: no path, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*')
    return name.strip(" .")[:200] or "attachment"


@dataclass(frozen=True)
class Upload:
    """An accepted upload, stored under ``key``: what its row records."""

    key: str
    filename: str
    media_type: str
    size: int
    sha256: str


def accept_upload(storage: IFileStorage, filename: str, stream: BinaryIO, limit: int) -> Upload:
    """Store an upload and check it by the portal's rules (not empty, at most ``limit``
    bytes, of an accepted format whose content matches its name). InputError if not,
    and then nothing is kept. Every domain that takes files (content, bookings, chat,
    cases) goes through here, so one rule holds everywhere."""
    name = safe_filename(filename)
    key, size, digest = storage.save(stream, limit)  # too large: raises, keeps nothing
    try:
        if size == 0:
            raise InputError("upload", "The file is empty.")
        fmt = check_format(name, storage.path(key))
    except Exception:
        storage.delete(key)
        raise
    return Upload(key, name, fmt.media_type, size, digest)


def check_format(filename: str, path: str) -> Format:
    """The format of the file at ``path``, or InputError if it is not what its name says."""
    ext = extension_of(filename)
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise InputError(
            "upload",
            "Files of type .${ext} are not accepted. Accepted: ${accepted}.",
            ext=ext or "?",
            accepted=", ".join(sorted(FORMATS)),
        )
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not any(head.startswith(m) for m in fmt.magic):
        raise InputError(
            "upload", "The file's content does not match its extension .${ext}.", ext=ext
        )
    if fmt.zip_member:
        _check_zip(path, fmt.zip_member, ext)
    return fmt


def _check_zip(path: str, member: str, ext: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise InputError("upload", "The file is damaged and cannot be opened.") from None
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if (
        len(infos) > MAX_ZIP_MEMBERS
        or total > MAX_ZIP_UNCOMPRESSED
        or total / packed > MAX_ZIP_RATIO
    ):
        raise InputError("upload", "The file expands to an unreasonable size and was refused.")
    if not any(i.filename == member for i in infos):
        raise InputError(
            "upload", "The file's content does not match its extension .${ext}.", ext=ext
        )


class IFileStorage(Interface):
    def save(source: BinaryIO, max_bytes: int) -> tuple[str, int, str]:
        """Store a stream under a new random key; return (key, size, sha256).

        Raises InputError when the stream exceeds ``max_bytes``; nothing is kept then."""

    def path(key: str) -> str:
        """Local path of a stored file (for checks and for FileResponse)."""

    def delete(key: str) -> None:
        """Remove a stored file; missing files are not an error."""


@implementer(IFileStorage)
class LocalFileStorage:
    """Files under ``root/ab/abcdef…``: the key is random hex, never a user's file name."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, key: str) -> str:
        if not (len(key) == 32 and all(c in "0123456789abcdef" for c in key)):
            raise ValueError("bad storage key")
        return os.path.join(self.root, key[:2], key)

    def save(self, source: BinaryIO, max_bytes: int) -> tuple[str, int, str]:
        key = secrets.token_hex(16)
        target = self.path(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with open(target + ".part", "wb") as out:
                for chunk in _chunks(source):
                    size += len(chunk)
                    if size > max_bytes:
                        raise InputError(
                            "upload", "The file is larger than ${limit} MB.", limit=max_bytes >> 20
                        )
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(target + ".part", target)
        finally:
            if os.path.exists(target + ".part"):
                os.unlink(target + ".part")
        return key, size, digest.hexdigest()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))

    def copy_from(self, path: str) -> tuple[str, int, str]:
        with open(path, "rb") as handle:
            return self.save(handle, 1 << 40)


def _chunks(source: BinaryIO, size: int = 64 * 1024) -> Iterator[bytes]:
    while chunk := source.read(size):
        yield chunk
