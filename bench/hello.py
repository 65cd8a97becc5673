"""The baseline for bench/portal.py: the smallest Pyramid app waitress can serve.

One route, one view, no database, no templates, no tweens of ours. Whatever the
portal costs beyond this is the portal's own work.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router


def hello(request: Request) -> Response:
    return Response("Hello World!", content_type="text/plain")


def main(global_config: dict[str, Any] | None, **settings: Any) -> Router:
    """PasteDeploy app factory (``use = call:hello:main``)."""
    with Configurator(settings=settings) as config:
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello")
        return config.make_wsgi_app()
