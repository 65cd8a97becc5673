"""``qzt digest`` and ``qzt mail`` as an operator types them, on a committed database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from portal import cli
from portal.db import make_session_factory
from portal.mail.models import SENT, OutboxMail
from tests import factories_digests as fd


@pytest.fixture
def committed_city(engine: Engine) -> Iterator[Any]:
    with fd.committed_city(engine) as city:
        yield city


@pytest.fixture
def ini(tmp_path: Any, settings: dict[str, Any]) -> str:
    path = tmp_path / "cli.ini"
    url = settings["sqlalchemy.url"].replace("%", "%%")
    path.write_text(
        "[app:main]\n"
        "use = egg:qizhengtong\n"
        f"sqlalchemy.url = {url}\n"
        f"qzt.storage_dir = {tmp_path / 'files'}\n"
        "qzt.public_url = https://qzt.example.gov.cn\n"
        "qzt.mail.transport = maildir\n"
        f"qzt.mail.maildir = {tmp_path / 'maildir'}\n",
        encoding="utf-8",
    )
    return str(path)


def run(capsys: Any, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_preview_send_by_hand_and_deliver_to_the_maildir(
    ini, committed_city, engine, capsys, tmp_path
):
    city = committed_city
    code, out = run(capsys, "--ini", ini, "digest", "daily", "--date", "2026-03-02", "--dry-run")
    assert code == 0
    assert "To: 王强 <wang@example.gov.cn>" in out
    # by hand, after the day: marked as sent late
    assert "Subject: 企政通每日诉求简报（2026年3月2日）：新收 1 件，超期 0 件（补发）" in out
    assert "园区断电" in out
    assert "https://qzt.example.gov.cn/cases/" in out
    assert "queued=0" in out
    assert "dry run" in out

    code, out = run(capsys, "--ini", ini, "digest", "daily", "--date", "2026-03-02")
    assert (code, "queued=3" in out) == (0, True)
    code, out = run(capsys, "--ini", ini, "digest", "daily", "--date", "2026-03-02")
    assert "queued=0 already_sent=3" in out
    code, out = run(capsys, "--ini", ini, "digest", "weekly", "--date", "2026-03-04")
    assert "weekly 2026-03-02: queued=1" in out  # the week's send day, Monday

    code, out = run(capsys, "--ini", ini, "mail", "send")
    assert (code, "maildir: claimed=4 sent=4" in out) == (0, True)
    assert len(os.listdir(tmp_path / "maildir" / "new")) == 4
    with make_session_factory(engine)() as session:
        states = session.scalars(
            select(OutboxMail.state).where(OutboxMail.kind.like("digest.%"))
        ).all()
    assert states == [SENT] * 4
    code, out = run(capsys, "--ini", ini, "mail", "status")
    assert "failed=0" in out
    assert city.wang.name == "王强"


def test_a_bad_date_is_refused_with_a_clear_message(ini, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--ini", ini, "digest", "daily", "--date", "2026-02-30"])
    assert exit_.value.code == 2
    assert "not a date (YYYY-MM-DD): '2026-02-30'" in capsys.readouterr().err


def test_retrying_an_unknown_message_says_so(ini, capsys):
    code, out = run(capsys, "--ini", ini, "mail", "retry", "999999")
    assert (code, out.strip()) == (1, "0 messages queued for the next pass")
