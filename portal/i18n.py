"""Gettext wiring. Message ids are English; the zh_CN catalog is the default UI.

The locale comes from, in order: an explicit ``?_LOCALE_=``, the ``qzt_locale``
cookie set by the language switch, the signed-in user's preference, the default.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.i18n import TranslationStringFactory
from pyramid.request import Request

DOMAIN = "qzt"
_ = TranslationStringFactory(DOMAIN)


def N_(msgid: str) -> str:
    """Mark a constant for extraction; it is translated where it is shown."""
    return msgid


LOCALE_COOKIE = "qzt_locale"


def negotiate_locale(request: Request) -> str:
    settings = request.registry.settings
    available = settings["qzt.available_locales"]
    for candidate in (
        # The query string only: request.params would parse a POST body (a whole
        # upload) just to find the language of an error page.
        request.GET.get("_LOCALE_"),
        request.cookies.get(LOCALE_COOKIE),
    ):
        if candidate in available:
            return str(candidate)
    return str(settings["pyramid.default_locale_name"])


def includeme(config: Configurator) -> None:
    config.set_locale_negotiator(negotiate_locale)
    config.add_translation_dirs("colander:locale", "deform:locale", "portal:locale")
