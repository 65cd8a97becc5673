"""An enterprise user logs in through the form and out again, in a real browser."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.sampledata import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_demo_enterprise_user_logs_in_and_out(desktop, site):
    page, log = desktop
    name = site.scalar(select(User.display_name).where(User.login == "enterprise"))
    page.goto("/")
    page.locator(".account-nav").get_by_role("link", name="登录").click()

    page.fill("input[name=login]", "enterprise")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("#login button[type=submit]").click()

    header = page.locator(".account-nav")
    assert header.get_by_role("link", name=name).is_visible()
    assert [c["name"] for c in page.context.cookies()] == ["qzt_session"]

    header.get_by_role("button", name="退出").click()

    page.wait_for_url("**/")
    assert header.get_by_role("link", name="登录").is_visible()
    assert header.get_by_text(name).count() == 0
    assert page.context.cookies() == []
    assert log.problems(page) == []


def test_wrong_password_is_reported_next_to_the_field(desktop):
    page, log = desktop
    page.goto("/login")
    page.fill("input[name=login]", "enterprise")
    page.fill("input[name=password]", "not-the-password")
    page.locator("#login button[type=submit]").click()

    error = page.locator(".invalid-feedback")
    assert error.is_visible()
    assert page.locator(".account-nav").get_by_role("link", name="登录").is_visible()
    assert log.problems(page) == []
