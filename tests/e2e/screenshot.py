"""Retake the README's screenshot: ``.venv/bin/python -m tests.e2e.screenshot``.

Builds the same seeded database as the browser tests, serves it on a free port and
photographs the home page at 1280×900 (and, with ``--phone``, at 375×740). The
picture needs a CJK font on the machine (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import os
import tempfile

from tests.e2e.conftest import (
    CHROMIUM,
    DESKTOP,
    LAUNCH_ARGS,
    PHONE,
    LiveServer,
    build_database,
    e2e_settings,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    from playwright.sync_api import sync_playwright

    from portal import main as make_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "img", "home.png"))
    parser.add_argument("--phone", help="also write a phone-size picture to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qzt-shot-") as root:
        settings = e2e_settings(root)
        engine = build_database(settings)
        server = LiveServer(make_app({}, **{**settings, "qzt.engine": engine}))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                shots = [(args.out, DESKTOP)] + ([(args.phone, PHONE)] if args.phone else [])
                for path, viewport in shots:
                    page = browser.new_page(viewport=viewport, locale="zh-CN")
                    page.goto(server.url + "/")
                    page.screenshot(path=path)
                    print("wrote", path)
                browser.close()
        finally:
            server.stop()
            engine.dispose()


if __name__ == "__main__":
    main()
