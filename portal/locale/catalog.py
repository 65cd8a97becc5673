"""Keep the catalogs in step with the code: ``python -m portal.locale.catalog``.

Extracts every msgid (templates, ``_()``, ``N_()`` and user-facing errors), merges
them into ``zh_CN`` and ``en``, and lists the zh_CN msgids still untranslated. The
test suite runs :func:`missing` so an untranslated Chinese UI string fails CI.
"""

from __future__ import annotations

import io
import os
import sys

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCALE_DIR = os.path.join(ROOT, "portal", "locale")
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "InputError": (2,),
    "AccountError": (2,),
    "ContentError": (2,),
}
METHOD_MAP = [
    ("portal/templates/**.jinja2", "jinja2"),
    ("portal/**.py", "python"),
    ("forms/**.py", "python"),
]
OPTIONS = {"portal/templates/**.jinja2": {"extensions": "jinja2.ext.do"}}


def extract() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT, METHOD_MAP, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        if isinstance(message, tuple):
            message = message[0]
        if message:
            found.add(message)
    return found


def po_path(locale: str) -> str:
    return os.path.join(LOCALE_DIR, locale, "LC_MESSAGES", "qzt.po")


def load(locale: str) -> Catalog:
    path = po_path(locale)
    if not os.path.exists(path):
        return Catalog(locale=locale, domain="qzt", project="qizhengtong")
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale, domain="qzt")


def save(catalog: Catalog, locale: str) -> None:
    path = po_path(locale)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=True, omit_header=False, ignore_obsolete=True)
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def missing(locale: str = "zh_CN") -> list[str]:
    catalog = load(locale)

    def translated(msgid: str) -> bool:
        message = catalog.get(msgid)
        return message is not None and bool(message.string)

    return sorted(m for m in extract() if not translated(m))


def update(translations: dict[str, str] | None = None) -> None:
    """Add new msgids to both catalogs; ``translations`` fills zh_CN strings.

    Takes a file lock: several people (or agents) may update the catalog at once.
    """
    import fcntl

    os.makedirs(LOCALE_DIR, exist_ok=True)
    with open(os.path.join(LOCALE_DIR, ".catalog.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _update(translations)


def _update(translations: dict[str, str] | None) -> None:
    ids = extract()
    for locale in ("zh_CN", "en"):
        catalog = load(locale)
        for msgid in ids:
            if catalog.get(msgid) is None:
                catalog.add(msgid, "")
        if locale == "zh_CN":
            for msgid, text in (translations or {}).items():
                if msgid in ids:
                    catalog[msgid].string = text
        for message in list(catalog):
            if message.id and message.id not in ids:
                catalog.delete(message.id)
        save(catalog, locale)


if __name__ == "__main__":
    # python -m portal.locale.catalog [translations.json]  ({"msgid": "译文", ...})
    import json

    given: dict[str, str] = {}
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as handle:
            given = json.load(handle)
    update(given)
    gaps = missing()
    for msgid in gaps:
        print("untranslated:", msgid)
    sys.exit(1 if gaps else 0)
