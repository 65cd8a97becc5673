"""Every kind of public page loads cleanly: no console errors, no CSP violations,
and no horizontal scrolling on a phone."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PAGES = ["/", "/policies", "/regulations", "ITEM", "/login", "/departments"]


def _path(path: str, item_id: int) -> str:
    return f"/content/{item_id}" if path == "ITEM" else path


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors_or_csp_violations(desktop, sample_item_id, path):
    page, log = desktop
    response = page.goto(_path(path, sample_item_id))

    assert response is not None
    assert response.status == 200
    page.wait_for_load_state("load")
    # the stylesheet got through the CSP: the header band is painted red
    header = "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    assert page.evaluate(header) == "rgb(179, 20, 28)"
    assert log.problems(page) == []


@pytest.mark.parametrize("path", PAGES)
def test_phone_page_does_not_scroll_sideways(phone, sample_item_id, path):
    page, log = phone
    page.goto(_path(path, sample_item_id))

    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner
    assert log.problems(page) == []
