"""An enterprise and a staff member chat in two browsers, through the real realtime
server: live presence on the home page, the conversation with typing, read receipts,
an attachment and a canned reply, a server restart in the middle, the rating, then
the department going offline and the 留言 path."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.chat.models import Conversation, ConvState
from portal.complaints.models import Case
from portal.departments.models import Department
from portal.mail.models import OutboxMail
from portal.sampledata import DEMO_PASSWORD
from tests.e2e.conftest import CSP_LISTENER, DESKTOP, PageLog

pytestmark = pytest.mark.browser

DEPT = "fgj"  # 发展和改革局: two staff and a head in the sample data
STAFF = "fgj-staff1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128
#: what the browser logs while the realtime server is down on purpose
DOWN = "WebSocket connection to"

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module", autouse=True)
def settled(site: Any) -> None:
    """Wait until the portal has indexed the sample data it found at start.

    Why: on SQLite a request whose transaction read before another connection
    committed cannot then write (the snapshot cannot be upgraded); the start-up drain
    of the search outbox commits batch after batch for a while, and a login during
    it can fail all of its retries.
    """
    from portal.searching.models import SearchOutbox

    deadline = time.monotonic() + 120
    while site.scalar(select(func.count()).select_from(SearchOutbox)):
        assert time.monotonic() < deadline, "the search outbox never drained"
        time.sleep(0.5)


def login(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("#login button[type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


@pytest.fixture
def staff(desktop: tuple[Any, Any]) -> tuple[Any, Any]:
    page, log = desktop
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, STAFF)
    return page, log


@pytest.fixture
def enterprise(phone: tuple[Any, Any]) -> tuple[Any, Any]:
    """The enterprise on a phone: the widget must work at 375 px too."""
    page, log = phone
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "enterprise")
    return page, log


@pytest.fixture
def dept_id(site: Any) -> int:
    return int(site.scalar(select(Department.id).where(Department.code == DEPT)))


def sidebar_item(page: Any) -> Any:
    return page.locator(f".dept-list li[data-dept={DEPT}]")


def open_console(page: Any) -> None:
    page.goto("/chat/console")
    expect(page.locator("[data-conn-state]")).to_have_text("已连接")


def start_chat(page: Any, topic: str) -> None:
    page.goto(f"/chat/with/{DEPT}")
    expect(page.locator("[data-dept-status]")).to_contain_text("在线")
    page.fill("#chat-topic", topic)
    page.get_by_role("button", name="开始咨询").click()
    expect(page.locator("[data-composer]")).to_be_visible()


def send(page: Any, text: str) -> None:
    box = page.locator("[data-composer] textarea")
    box.fill(text)
    box.press("Enter")


def texts(page: Any) -> list[str]:
    return page.locator("[data-messages] .msg-text").all_inner_texts()


def open_mine(page: Any, topic: str) -> None:
    page.get_by_role("tab", name=re.compile("我的")).click()
    page.locator(".inbox-item", has_text=topic).click()
    expect(page.locator("[data-composer]")).to_be_visible()


def test_enterprise_and_staff_chat_live(site, browser, staff, enterprise, dept_id):
    staff_page, staff_log = staff
    ent_page, ent_log = enterprise

    # the home page says the department is offline, then online as staff arrive,
    # without a reload
    ent_page.goto("/")
    expect(sidebar_item(ent_page)).to_have_class(re.compile("is-offline"))
    staff_page.goto("/chat/canned")
    staff_page.fill("#new-title", "退税材料")
    staff_page.fill("#new-body", "请准备出口报关单和增值税专用发票。")
    staff_page.get_by_role("button", name="添加", exact=True).click()
    open_console(staff_page)
    expect(sidebar_item(ent_page)).to_have_class(re.compile("is-online"))
    expect(sidebar_item(ent_page).locator(".presence-badge")).to_have_text("在线")
    assert ent_page.locator("[data-presence-summary]").inner_text().endswith("个部门在线")

    # the enterprise clicks it and starts a conversation: routed to the one online staff
    sidebar_item(ent_page).locator("a").click()
    ent_page.wait_for_url(f"**/chat/with/{DEPT}")
    start_chat(ent_page, "出口退税")
    send(ent_page, "您好，想咨询出口退税政策。")
    expect(ent_page.locator("[data-messages] p.msg-system")).to_contain_text("加入了对话")

    # the console shows it under 我的; the staff member reads and answers
    expect(staff_page.locator("[data-count=mine]")).to_have_text("(1)")
    open_mine(staff_page, "出口退税")
    expect(staff_page.locator("[data-messages]")).to_contain_text("您好，想咨询出口退税政策。")
    expect(ent_page.locator(".msg-mine .msg-receipt").first).to_have_text("已读")

    staff_page.locator("[data-composer] textarea").press_sequentially("请问贵公司")
    expect(ent_page.locator("[data-typing]")).to_contain_text("正在输入")
    staff_page.locator("[data-composer] textarea").fill("")
    staff_page.select_option("#canned-select", label="退税材料")
    expect(staff_page.locator("[data-composer] textarea")).to_have_value(
        "请准备出口报关单和增值税专用发票。"
    )
    staff_page.locator("[data-composer] textarea").press("Enter")
    expect(ent_page.locator("[data-messages]")).to_contain_text("请准备出口报关单")
    expect(staff_page.locator(".msg-mine .msg-receipt").last).to_have_text("已读")

    # a supervisor follows the conversation live, read-only
    watcher = browser.new_context(viewport=DESKTOP, base_url=site.url, locale="zh-CN")
    watcher.set_default_timeout(10_000)
    watch = watcher.new_page()
    watch_log = PageLog()
    watch.add_init_script(CSP_LISTENER)
    watch.on("console", lambda m: watch_log.errors.append(m.text) if m.type == "error" else None)
    login(watch, "supervisor")
    conv_id = site.scalar(select(Conversation.id).where(Conversation.topic == "出口退税"))
    watch.goto(f"/chat/conversations/{conv_id}")
    expect(watch.locator(".state-banner")).to_contain_text("只读")
    send(staff_page, "材料齐全后三个工作日内办结。")
    expect(watch.locator("[data-messages]")).to_contain_text("材料齐全后三个工作日内办结。")
    assert watch.locator(".msg-mine").count() == 0
    assert watch_log.problems(watch) == []
    watcher.close()

    # an attachment, uploaded over HTTP and announced in the chat
    ent_page.locator("[data-file]").set_input_files(
        {"name": "报关单.png", "mimeType": "image/png", "buffer": PNG}
    )
    link = staff_page.locator("[data-messages] .msg-file a", has_text="报关单.png")
    expect(link).to_be_visible()
    assert link.get_attribute("href").startswith("/chat/files/")

    # the staff member ends it; the enterprise rates it
    staff_page.get_by_role("button", name="结束对话").click()
    expect(ent_page.locator("[data-ended]")).to_be_visible()
    ent_page.get_by_text("非常满意").click()
    ent_page.fill("[data-rating-form] textarea", "答复及时、清楚")
    ent_page.get_by_role("button", name="提交评价").click()
    expect(ent_page.locator("[data-rated]")).to_have_text("感谢您的评价。")

    conv = site.scalar(
        select(Conversation).where(Conversation.topic == "出口退税").order_by(Conversation.id)
    )
    assert (conv.state, conv.rating, conv.rating_comment) == (ConvState.CLOSED, 5, "答复及时、清楚")
    assert conv.department_id == dept_id
    assert conv.first_response_at is not None
    assert ent_log.problems(ent_page) == []
    assert staff_log.problems(staff_page) == []


def test_messages_sent_while_the_server_restarts_arrive_once(site, staff, enterprise):
    staff_page, staff_log = staff
    ent_page, ent_log = enterprise
    open_console(staff_page)
    start_chat(ent_page, "重启测试")
    send(ent_page, "第一条")
    open_mine(staff_page, "重启测试")
    expect(staff_page.locator("[data-messages]")).to_contain_text("第一条")

    site.realtime.restart()  # every connection closes with 1001
    send(ent_page, "断线时发送")  # kept in the outbox, resent after the reconnect
    send(staff_page, "服务器重启后的答复")

    expect(staff_page.locator("[data-messages]")).to_contain_text("断线时发送")
    expect(ent_page.locator("[data-messages]")).to_contain_text("服务器重启后的答复")
    expect(ent_page.locator(".msg-pending")).to_have_count(0)
    assert texts(staff_page).count("断线时发送") == 1
    assert texts(ent_page) == ["第一条", "断线时发送", "服务器重启后的答复"] or texts(ent_page) == [
        "第一条",
        "服务器重启后的答复",
        "断线时发送",
    ]
    conv_id = site.scalar(select(Conversation.id).where(Conversation.topic == "重启测试"))
    from portal.chat.models import ChatMessage

    stored = site.scalar(
        select(ChatMessage.id).where(
            ChatMessage.conversation_id == conv_id, ChatMessage.body == "断线时发送"
        )
    )
    assert stored is not None
    staff_page.get_by_role("button", name="结束对话").click()
    expect(ent_page.locator("[data-ended]")).to_be_visible()
    for page, log in ((ent_page, ent_log), (staff_page, staff_log)):
        assert [p for p in log.problems(page) if DOWN not in p] == []


def test_the_department_goes_offline_and_the_enterprise_leaves_a_message(site, staff, enterprise):
    staff_page, staff_log = staff
    ent_page, ent_log = enterprise
    open_console(staff_page)
    ent_page.goto(f"/chat/with/{DEPT}")
    expect(ent_page.locator("[data-dept-status]")).to_contain_text("在线")
    expect(ent_page.locator("[data-start-form]")).to_be_visible()

    staff_page.goto("/")  # the console closes: nobody of the department is connected
    expect(ent_page.locator("[data-dept-status]")).to_contain_text("离线")
    expect(ent_page.locator("[data-start-form]")).to_be_hidden()
    form = ent_page.locator("[data-offline-form]")
    expect(form).to_be_visible()
    expect(sidebar_item(staff_page)).to_have_class(re.compile("is-offline"))

    form.locator("select[name=kind]").select_option("help")
    form.locator("input[name=title]").fill("项目备案进度")
    form.locator("textarea[name=text]").fill("我司技改项目备案已提交两周，请问进度？")
    form.get_by_role("button", name="提交留言").click()

    flash = ent_page.locator(".flash-ok")
    expect(flash).to_contain_text("您的留言已登记为案件")
    case = site.scalar(select(Case).where(Case.title == "项目备案进度"))
    assert (case.source, case.kind) == ("message", "help")
    assert case.number in flash.inner_text()
    assert site.scalar(select(OutboxMail.id).where(OutboxMail.subject.contains(case.number)))
    assert ent_log.problems(ent_page) == []
    assert staff_log.problems(staff_page) == []


def test_the_console_inbox_is_keyboard_operable(staff):
    page, log = staff
    open_console(page)
    page.locator("#tab-waiting").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-mine")).to_be_focused()
    expect(page.locator("#tab-mine")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-waiting")).to_have_attribute("aria-selected", "true")
    assert log.problems(page) == []


def test_signing_out_elsewhere_ends_the_console_connection(site, staff):
    staff_page, staff_log = staff
    open_console(staff_page)

    # The same browser signs out in another tab: the console's websocket is closed
    # (4403) and it says so instead of reconnecting as a user who is gone.
    other = staff_page.context.new_page()
    other.goto("/")
    other.locator("form[action$='/logout'] button").click()
    other.wait_for_load_state()
    expect(staff_page.locator("[data-conn-state]")).to_have_text(
        "您已退出门户登录，请重新登录后继续对话。"
    )
    expect(staff_page.locator("[data-conn-banner]")).to_contain_text("您已退出门户登录")
    expect(staff_page.locator("[data-reconnect]")).to_be_hidden()
    other.close()
    assert staff_log.problems(staff_page) == []
