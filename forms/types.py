"""colander types whose errors are in our catalog (colander ships no zh_CN one)."""

from __future__ import annotations

from typing import Any, ClassVar

import colander
from translationstring import TranslationString

from portal.i18n import _


class Integer(colander.Integer):
    """An integer field; ``message`` is what a non-number gets, next to the field."""

    message: ClassVar[TranslationString] = _("Enter a whole number.")

    def deserialize(self, node: colander.SchemaNode, cstruct: Any) -> Any:
        try:
            return super().deserialize(node, cstruct)
        except colander.Invalid:
            raise colander.Invalid(node, self.message) from None


class Date(colander.Date):
    err_template = _("Enter a date as YYYY-MM-DD, e.g. 2026-03-02.")
