"""Settings: defaults < .ini < environment, converted once."""

from __future__ import annotations

import os

from portal import settings as settings_mod


def test_environment_wins_over_ini_and_is_converted():
    loaded = settings_mod.load(
        {"here": "/srv/qzt", "qzt.page_size": "15", "qzt.hsts": "false"},
        environ={"QZT_PAGE_SIZE": "30", "QZT_HSTS": "yes"},
    )
    assert loaded["qzt.page_size"] == 30
    assert loaded["qzt.hsts"] is True


def test_relative_paths_resolve_against_the_ini_directory():
    loaded = settings_mod.load({"here": "/srv/qzt"}, environ={})
    assert loaded["sqlalchemy.url"] == "sqlite:////srv/qzt/var/qzt.sqlite"
    assert loaded["qzt.storage_dir"] == "/srv/qzt/var/files"


def test_every_setting_is_documented():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    with open(os.path.join(root, "docs", "configuration.md"), encoding="utf-8") as handle:
        doc = handle.read()
    for setting in settings_mod.SETTINGS:
        assert f"`{setting.key}`" in doc, setting.key
        if setting.env:
            assert f"`{setting.env}`" in doc, setting.env
