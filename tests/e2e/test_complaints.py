"""A case in real browsers, from a department's page to a bad rating: the enterprise
files it through the form with a file, the department's staff find it with the
search box, sign it and reply, the head signs the reply off and closes the case,
the enterprise reads the reply and rates it 不满意, and the case reopens for 整改."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.complaints.models import Case, CaseAttachment, CaseRectification
from portal.departments.models import Department
from portal.sampledata import DEMO_PASSWORD
from tests.e2e.conftest import CSP_LISTENER, DESKTOP, PageLog

pytestmark = pytest.mark.browser

DEPT = "scj"  # 市场监督管理局: a head and a member of staff in the sample data
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
REPLY = "已约谈物业公司，本周内恢复园区供电并书面答复。"

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module", autouse=True)
def settled(site: Any) -> None:
    """Wait until the portal has indexed the sample data it found at start: on SQLite
    a login during the start-up drain of the search outbox can lose every retry to
    its commits (see tests/e2e/test_chat.py)."""
    from portal.searching.models import SearchOutbox

    deadline = time.monotonic() + 120
    while site.scalar(select(func.count()).select_from(SearchOutbox)):
        assert time.monotonic() < deadline, "the search outbox never drained"
        time.sleep(0.5)


@pytest.fixture
def people(browser: Any, site: Any) -> Iterator[Any]:
    """``people(login)``: a browser context of its own, signed in as ``login``."""
    opened: list[Any] = []

    def sign_in(login: str) -> tuple[Any, PageLog]:
        context = browser.new_context(viewport=DESKTOP, base_url=site.url, locale="zh-CN")
        context.set_default_timeout(10_000)
        opened.append(context)
        page = context.new_page()
        log = PageLog()
        page.add_init_script(CSP_LISTENER)
        page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: log.errors.append(f"uncaught: {exc}"))
        page.goto("/login")
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.locator("#login button[type=submit]").click()
        page.wait_for_url(re.compile(r"^(?!.*/login)"))
        return page, log

    try:
        yield sign_in
    finally:
        for context in opened:
            context.close()


def move(page: Any, name: str, comment: str | None = None) -> None:
    """Press the button of workflow move ``name`` on the case page, after its text."""
    form = page.locator(f"#move-{name}")
    if comment is not None:
        form.locator("textarea[name=comment]").fill(comment)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(".flash-ok")).to_be_visible()


def test_a_case_from_the_form_to_a_bad_rating_and_rectification(people, site):
    dept_id = site.scalar(select(Department.id).where(Department.code == DEPT))

    # The enterprise starts from the department's page.
    company, company_log = people("enterprise")
    company.goto(f"/departments/{DEPT}")
    company.locator("article.department").get_by_role("link", name="提交诉求").click()
    company.wait_for_url(f"**/cases/new?department={dept_id}")
    expect(company.locator("#case-department")).to_have_value(str(dept_id))
    company.get_by_label("投诉", exact=True).check()
    company.fill("#case-title", "园区频繁停电影响生产")
    company.fill("#case-description", "本月园区已停电四次，物业不予答复，请协调处理。")
    company.set_input_files(
        "#case-files",
        files=[{"name": "停电记录.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    company.locator("#case-form button[type=submit]").click()
    company.wait_for_url(re.compile(r"/cases/\d+$"))
    case_id = int(company.url.rsplit("/", 1)[1])
    case = site.scalar(select(Case).where(Case.id == case_id))
    assert case.department_id == dept_id
    expect(company.locator(".flash-ok")).to_contain_text(case.number)
    expect(company.locator(".attachment-list")).to_contain_text("停电记录.pdf")
    assert site.scalar(select(func.count()).where(CaseAttachment.case_id == case_id)) == 1

    # The department's staff find it by its number, open its file, sign and reply.
    staff, staff_log = people(f"{DEPT}-staff1")
    staff.goto("/cases")
    staff.locator("#case-filter input[name=q]").fill(case.number)
    staff.locator("#case-filter button[type=submit]").click()
    rows = staff.locator("table.cases tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=case.number).click()
    staff.wait_for_url(f"**/cases/{case_id}")
    href = staff.locator(".attachment-list a").get_attribute("href")
    download = staff.request.get(href)
    assert download.ok
    assert download.body() == PDF
    move(staff, "sign")
    move(staff, "submit_reply", REPLY)
    # Staff may not sign their own reply off.
    expect(staff.locator("#move-approve_reply")).to_have_count(0)

    # The head signs the reply off and closes the case.
    head, head_log = people(f"{DEPT}-head")
    head.goto(f"/cases/{case_id}")
    expect(head.locator(".case-messages")).to_contain_text(REPLY)
    move(head, "approve_reply")
    move(head, "close")

    # The enterprise reads the reply and is not satisfied.
    company.goto(f"/cases/{case_id}")
    expect(company.locator(".case-messages")).to_contain_text(REPLY)
    rating = company.locator("#move-rate")
    rating.get_by_label("不满意", exact=True).check()
    rating.locator("textarea[name=comment]").fill("答复后仍然停电。")
    rating.locator("button[type=submit]").click()
    company.wait_for_load_state()
    expect(company.locator(".state")).to_have_text("整改中")
    expect(company.locator(".case-facts")).to_contain_text("整改时限")

    state = site.scalar(select(Case.state).where(Case.id == case_id))
    assert state == "rectifying"
    rectification = site.scalar(
        select(CaseRectification).where(CaseRectification.case_id == case_id)
    )
    assert rectification.department_id == dept_id
    assert rectification.closed_at is None
    # The department sees the reopened case waiting for its follow-up.
    staff.goto(f"/cases/{case_id}")
    expect(staff.locator("#move-record_followup")).to_be_visible()

    for page, log in ((company, company_log), (staff, staff_log), (head, head_log)):
        assert log.problems(page) == []
