"""文号 (document numbers): one key for every way people type them, and finding them in
a query.

国办发〔2017〕47号, 国办发[2017]47号, 国办发(2017)47号, 国办发（2017）47号 and
国办发2017年47号 all become 国办发〔2017〕47号. The portal keeps its own copy of the rule
for its database column (portal/content/text.py); search may not import domain code,
and a unit test checks that the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = "[(（［【〖〔"
_CLOSE = "])）］】〗〕"
_BRACKETS = str.maketrans(dict.fromkeys(_OPEN, "〔") | dict.fromkeys(_CLOSE, "〕"))
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_YEAR = r"(?:19|20)\d{2}"

# An agency prefix, then the year in any bracket form or followed by 年, then the
# serial number and 号 (第 before the serial is tolerated).
_WITH_YEAR = re.compile(
    rf"(?P<agency>[\u4e00-\u9fff]{{1,12}})\s*"
    rf"(?:[{re.escape(_OPEN)}]\s*(?P<year1>{_YEAR})\s*[{re.escape(_CLOSE)}]"
    rf"|(?P<year2>{_YEAR})\s*年?)\s*第?\s*(?P<serial>\d{{1,5}})\s*号"
)
# 国务院令第300号, 财政部公告第54号: numbered orders and notices without a year.
_NO_YEAR = re.compile(
    r"(?P<agency>[\u4e00-\u9fff]{1,16}?(?:令|公告))\s*第\s*(?P<serial>\d{1,6})\s*号"
)


@dataclass(frozen=True)
class DocNumber:
    agency: str
    serial: int
    year: int | None = None

    def key(self, agency: str | None = None) -> str:
        agency = self.agency if agency is None else agency
        if self.year is None:
            return f"{agency}第{self.serial}号"
        return f"{agency}〔{self.year}〕{self.serial}号"

    def candidate_keys(self) -> list[str]:
        """Keys for every tail of the agency of two characters or more.

        In free text the agency's start is unknown ("请问国办发〔2017〕47号" reads
        请问国办发 as the agency); the real 文号 is one of these tails.
        """
        tails = [self.agency[i:] for i in range(len(self.agency) - 1)] or [self.agency]
        return [self.key(tail) for tail in tails]


def _scan(text: str) -> list[tuple[int, DocNumber]]:
    text = text.translate(_FULLWIDTH_DIGITS)
    found: list[tuple[int, DocNumber]] = []
    for m in _WITH_YEAR.finditer(text):
        year = int(m.group("year1") or m.group("year2"))
        found.append((m.start(), DocNumber(m.group("agency"), int(m.group("serial")), year)))
    for m in _NO_YEAR.finditer(text):
        found.append((m.start(), DocNumber(m.group("agency"), int(m.group("serial")))))
    return sorted(found, key=lambda pair: pair[0])


def find(text: str) -> list[DocNumber]:
    """Every 文号 in ``text``, in order of appearance."""
    return [number for _pos, number in _scan(text)]


def normalise(raw: str) -> str:
    """The canonical key of one 文号 as written in a document's metadata."""
    found = find(raw.strip())
    if found:
        return found[0].key()
    return re.sub(r"\s+", "", raw.translate(_FULLWIDTH_DIGITS).translate(_BRACKETS))


def without_numbers(text: str) -> str:
    """``text`` without its 文号, so the rest can be searched as words."""
    text = _WITH_YEAR.sub(" ", text.translate(_FULLWIDTH_DIGITS))
    return _NO_YEAR.sub(" ", text)
