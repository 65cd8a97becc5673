"""友情链接 (friendly links) shown in the sidebar; administered under /admin/links."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Links have no public views of their own: the home sidebar reads them."""
