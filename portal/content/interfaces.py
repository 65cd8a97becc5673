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
    def create(section: str, data: dict[str, Any], actor: Any) -> ContentItem:
        """A new draft in ``section`` with revision 1."""

    def update(item: ContentItem, data: dict[str, Any], actor: Any) -> ContentItem:
        """Apply edited fields; keeps the previous values as a revision."""

    def transition(item: ContentItem, name: str, actor: Any, comment: str = "") -> Any:
        """Move ``item`` along a workflow transition; the caller checked permission."""

    def add_attachment(item: ContentItem, filename: str, stream: Any, actor: Any) -> Any:
        """Store and check an upload; InputError if refused, and then nothing is kept."""

    def remove_attachment(attachment: Any) -> None:
        """Delete an attachment and its stored file."""


class ContentChanged:
    """Fired after an item is created, edited or moves state; search and caches listen."""

    def __init__(self, item: ContentItem, kind: str, request: Any = None) -> None:
        self.item = item
        self.kind = kind  # "created" | "updated" | a transition name
        self.request = request
