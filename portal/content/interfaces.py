"""Contracts of the content domain, its events and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zope.interface import Interface

from portal.errors import InputError

if TYPE_CHECKING:
    from portal.content.models import ContentItem


class ContentError(InputError):
    """A content change the user can fix (wrong state, missing comment, bad file)."""


class IContentService(Interface):
    def create(section, data, actor):  # type: ignore[no-untyped-def]
        """A new draft in ``section`` with revision 1."""

    def update(item, data, actor):  # type: ignore[no-untyped-def]
        """Apply edited fields; keeps the previous values as a revision."""

    def transition(item, name, actor, comment):  # type: ignore[no-untyped-def]
        """Move ``item`` along a workflow transition; the caller checked permission."""

    def add_attachment(item, filename, stream, actor):  # type: ignore[no-untyped-def]
        """Store and check an upload; InputError if refused, and then nothing is kept."""

    def remove_attachment(attachment):  # type: ignore[no-untyped-def]
        """Delete an attachment and its stored file."""


class ContentChanged:
    """Fired after an item is created, edited or moves state; search and caches listen."""

    def __init__(self, item: ContentItem, kind: str, request: Any = None) -> None:
        self.item = item
        self.kind = kind  # "created" | "updated" | a transition name
        self.request = request
