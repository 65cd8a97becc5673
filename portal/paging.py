"""One page of results, in the shape the ``pager`` template macro reads."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any


@dataclass
class Page:
    items: list[Any]
    number: int
    size: int
    total: int

    @property
    def count(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def clamp(number: int, total: int, size: int) -> int:
    """The requested page number, kept within the pages that exist."""
    return max(1, min(number, max(1, ceil(total / size))))
