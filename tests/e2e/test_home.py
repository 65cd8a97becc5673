"""A visitor on the home page, with a mouse, a keyboard and a phone."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

COLUMN_HEADINGS = ["涉企政策", "行业发展动态", "企政交流服务动态", "法规公文"]


def test_home_shows_four_columns_and_the_sidebar(desktop):
    page, log = desktop
    page.goto("/")

    columns = page.locator(".columns > section.column")
    assert columns.locator("h2").all_inner_texts() == COLUMN_HEADINGS
    for index in range(4):
        column = columns.nth(index)
        assert column.locator(".item-list li a").count() >= 1
        assert column.locator(".item-list li time").first.inner_text()[:2] == "20"
    departments = page.locator(".sidebar .dept-list a")
    assert departments.count() == 58
    assert departments.first.is_visible()
    assert page.locator(".sidebar").get_by_text("视频交流预约").is_visible()
    assert page.locator(".sidebar .links li a").count() >= 1

    # the stylesheet is applied: sidebar on the left, two columns side by side
    side, news = page.locator(".sidebar").bounding_box(), page.locator(".columns").bounding_box()
    assert side["x"] + side["width"] <= news["x"]
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert first["y"] == second["y"]
    assert first["x"] < second["x"]
    assert log.problems(page) == []


def test_tab_reaches_the_skip_link_first_and_it_moves_focus_to_main(desktop):
    page, _ = desktop
    page.goto("/")
    skip = page.locator(".skip-link")
    assert skip.bounding_box()["y"] < 0  # out of sight until focused

    page.keyboard.press("Tab")

    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box["y"] >= 0
    assert box["height"] > 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # the next Tab continues inside the content, not back in the header
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_phone_shows_one_column_with_the_sidebar_below(phone):
    page, log = phone
    page.goto("/")

    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    columns = page.locator(".columns > section.column")
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert first["x"] == second["x"]
    assert first["y"] < second["y"]
    assert page.locator(".sidebar").bounding_box()["y"] > columns.nth(3).bounding_box()["y"]
    assert log.problems(page) == []


def test_elderly_mode_enlarges_the_type_and_is_remembered(desktop):
    page, log = desktop
    page.goto("/")
    toggle = page.locator("[data-care-toggle]")
    base = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")

    toggle.click()

    assert toggle.get_attribute("aria-pressed") == "true"
    larger = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert larger >= base * 1.2
    page.goto("/policies")  # another page, same choice
    assert "care" in page.evaluate("document.documentElement.className")
    page.locator("[data-care-toggle]").click()
    assert "care" not in page.evaluate("document.documentElement.className")
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == base
    assert log.problems(page) == []
