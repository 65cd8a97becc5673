"""The one error type a service raises for input a user can fix."""

from __future__ import annotations


class InputError(Exception):
    """Bad input tied to a form field. ``message`` is an English msgid; the UI shows
    its zh_CN translation next to ``field``."""

    def __init__(self, field: str, message: str, **mapping: object) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.mapping = mapping
