"""Two browsers meet: the head and the enterprise open the meeting page in headless
Chromium with fake cameras, the enterprise waits in the lobby until the head admits
it, and each browser receives the other's video (``getStats()`` inbound-rtp bytes
grow). Then chat, a camera switch, and the enterprise leaving and rejoining.

The portal (waitress) and the realtime server run in this process on free ports,
over a SQLite database built by the migrations and filled with the sample data; a
booking for the head of 发展改革局 starts now.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import main
from portal.accounts.models import User
from portal.clock import SystemClock
from portal.meetings.models import Booking
from portal.sampledata import DEMO_PASSWORD
from tests.conftest import require_service
from tests.e2e.conftest import (
    CHROMIUM,
    CSP_LISTENER,
    LAUNCH_ARGS,
    LiveServer,
    PageLog,
    build_database,
    e2e_settings,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class MeetingSite:
    url: str
    booking_id: int
    head_login: str
    head_name: str
    guest_name: str
    engine: Any = None
    recording_dir: str = ""


@pytest.fixture(scope="module")
def meeting_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingSite]:
    import os

    from tests.realtime_harness import ThreadedServer

    if not os.path.exists(CHROMIUM):
        require_service(f"Chromium not installed at {CHROMIUM}")
    settings = e2e_settings(str(tmp_path_factory.mktemp("meeting")))
    engine = build_database(settings)
    # The booking first: no server writes to the file yet.
    with Session(engine) as db:
        head = db.scalars(select(User).where(User.login == "fgj-head")).one()
        guest = db.scalars(select(User).where(User.login == "enterprise")).one()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        booking = Booking(
            uid=f"{secrets.token_hex(8)}@e2e",
            department_id=head.department_id,
            head_id=head.id,
            enterprise_id=guest.enterprise_id,
            requester_id=guest.id,
            topic="新厂房项目用地与环评咨询",
            state="confirmed",
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            blocked_from=start,
            blocked_until=start + timedelta(minutes=30),
            created_at=start,
            updated_at=start,
        )
        db.add(booking)
        db.commit()
        booking_id, head_login, head_name, guest_name = (
            booking.id,
            head.login,
            head.display_name,
            guest.display_name,
        )
    # The portal's address is needed before the app exists (the realtime server
    # checks the Origin), and the realtime address before the app is built (CSP).
    holder: dict[str, Any] = {}
    portal = LiveServer(lambda environ, start: holder["app"](environ, start))
    settings.update(
        {
            "qzt.clock": SystemClock(),
            "qzt.realtime.secret": secrets.token_hex(16),
            "qzt.realtime.origins": [portal.url],
            "qzt.realtime.allow_no_origin": False,
            "qzt.jobs.enabled": False,
            "qzt.meetings.recording_dir": str(tmp_path_factory.mktemp("recordings")),
        }
    )
    realtime = ThreadedServer(settings)
    ws_url = f"ws://127.0.0.1:{realtime.port}/ws"
    settings["qzt.realtime.public_url"] = settings["qzt.chat.realtime_url"] = ws_url
    holder["app"] = main({}, **{**settings, "qzt.engine": engine})
    found = MeetingSite(
        portal.url,
        booking_id,
        head_login,
        head_name,
        guest_name,
        engine,
        settings["qzt.meetings.recording_dir"],
    )
    try:
        yield found
    finally:
        portal.stop()
        realtime.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def media_browser(meeting_site: MeetingSite) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*LAUNCH_ARGS, *MEDIA_ARGS]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _participant(browser: Any, site: MeetingSite, login: str) -> tuple[Any, Any, PageLog]:
    context = browser.new_context(
        base_url=site.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    log = PageLog()
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: log.errors.append(f"uncaught: {exc}"))
    page.goto("/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("#login button[type=submit]").click()
    page.wait_for_url("**/")
    page.goto(f"/meetings/bookings/{site.booking_id}/room")
    return context, page, log


def _state(page: Any, state: str) -> None:
    page.wait_for_function("s => window.qztMeeting && window.qztMeeting.state() === s", arg=state)


def _receives_video(page: Any) -> None:
    """Inbound video bytes are there and still growing (the media flows)."""
    page.wait_for_function(
        "async () => Object.values(await window.qztMeeting.inboundVideoBytes()).some(b => b > 0)",
        polling=250,
    )
    before = sum(page.evaluate("() => window.qztMeeting.inboundVideoBytes()").values())
    page.wait_for_function(
        "async (b) => Object.values(await window.qztMeeting.inboundVideoBytes())"
        ".reduce((x, y) => x + y, 0) > b + 20000",
        arg=before,
        polling=250,
    )


def _recorded_both(site: MeetingSite) -> None:
    """One finished recording with a decodable file per browser, each with frames."""
    import av

    from portal.meetings.recording import Recording, file_path

    with Session(site.engine) as db:
        (run,) = db.scalars(select(Recording).where(Recording.booking_id == site.booking_id))
        assert run.state == "finished"
        assert len(run.files) == 2
        for f in run.files:
            with av.open(file_path(site.recording_dir, f.id)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            assert frames == f.video_frames > 0, f.participant


def test_head_and_enterprise_meet_and_each_receives_the_others_video(
    media_browser: Any, meeting_site: MeetingSite
) -> None:
    head_ctx, head, head_log = _participant(media_browser, meeting_site, meeting_site.head_login)
    guest_ctx, guest, guest_log = _participant(media_browser, meeting_site, "enterprise")
    try:
        _state(head, "joined")
        _state(guest, "lobby")
        assert "等候室" in guest.locator("[data-status]").inner_text()

        knock = head.locator("[data-knocks] li", has_text=meeting_site.guest_name)
        knock.get_by_role("button", name="准许进入").click()
        _state(guest, "joined")

        _receives_video(head)
        _receives_video(guest)
        tiles = head.locator("[data-videos] figure:not(.tile-self) figcaption")
        assert meeting_site.guest_name in tiles.first.inner_text()

        # chat, both ways stamped with the sender
        guest.fill("#room-chat-text", "您好，环评材料已上传。")
        guest.locator("[data-chat-form] button").click()
        head.locator("[data-chat-log] li", has_text="环评材料已上传").wait_for()
        assert meeting_site.guest_name in head.locator("[data-chat-log] li").last.inner_text()

        # the head turns the camera off: the enterprise is told in words
        head.locator("[data-toggle=video]").click()
        guest.locator("[data-videos] figcaption", has_text="摄像头已关闭").wait_for()

        # screen sharing (Chromium's fake picker hands over a fake screen): the head's
        # connection now sends the screen track, the enterprise is told and gets video
        camera = head.evaluate("() => window.qztMeeting.sentVideoLabels()")
        head.locator("[data-toggle=screen]").click()
        head.wait_for_function(
            "() => window.qztMeeting.sentVideoLabels().every(l => l && l.startsWith('screen'))"
        )
        assert not any(label.startswith("screen") for label in camera)
        sharing = guest.locator("[data-videos] figcaption", has_text="正在共享屏幕")
        sharing.wait_for()
        _receives_video(guest)
        head.get_by_role("button", name="停止共享").click()
        sharing.wait_for(state="detached")
        assert head.evaluate("() => window.qztMeeting.sentVideoLabels()") == camera

        # the enterprise leaves: the head sees it; it rejoins without the lobby
        guest.locator("[data-leave]").click()
        head.locator("[data-videos] figure.tile-gone").wait_for()
        assert "已离开会议" in head.locator("[data-status]").inner_text()
        guest.locator("[data-rejoin]").click()
        _state(guest, "joined")
        head.locator("[data-videos] figure.tile-gone").wait_for(state="detached")
        _receives_video(guest)

        # recording: the head asks, both agree on screen, both browsers connect to the
        # server's aiortc peer; the enterprise withdraws and the recording stops
        head.locator("[data-record]").click()
        for page in (head, guest):
            page.locator("[data-consent]").get_by_role("button", name="同意录制").click()
        for page in (head, guest):
            page.locator("[data-recording]").wait_for(state="visible")
            page.wait_for_function("() => window.qztMeeting.recorder() === 'connected'")
        head.wait_for_timeout(3000)  # let the recorder write a few seconds
        guest.locator("[data-consent-withdraw]").click()
        head.locator("[data-status]", has_text="录制已停止").wait_for()
        _recorded_both(meeting_site)

        for page, log in ((head, head_log), (guest, guest_log)):
            assert log.problems(page) == []
    finally:
        head_ctx.close()
        guest_ctx.close()
