"""Consent, recording runs, who may play them, and retention (portal/meetings/recording.py).

The purge runs on the frozen clock: nothing is deleted a second before the retention
period ends, everything right after, and a second run changes nothing.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.registry import Registry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from portal.meetings import recording
from portal.meetings.recording import Recording, RecordingAccess
from portal.permissions import Permission as Perm
from portal.roles import Role
from tests import factories
from tests.factories_room import meeting, supervisor
from tests.factories_room import recording as recording_row
from tests.timeline import now


def test_the_latest_answer_of_each_participant_counts(dbsession):
    m = meeting()
    recording.record_consent(dbsession, m.id, m.head.id, True, now())
    recording.record_consent(dbsession, m.id, m.requester.id, True, now())
    recording.record_consent(dbsession, m.id, m.requester.id, False, now())
    assert recording.consents(dbsession, m.id) == {m.head.id: True, m.requester.id: False}
    # the log keeps every answer (PIPL: when consent was given and withdrawn)
    assert len(dbsession.scalars(select(recording.RecordingConsent)).all()) == 3


def test_one_running_recording_per_meeting(dbsession):
    m = meeting()
    first = recording.begin(dbsession, m.booking, now())
    assert first is not None
    assert first.department_id == m.booking.department_id
    assert recording.begin(dbsession, m.booking, now()) is None
    assert recording.running(dbsession, m.id).id == first.id
    # the database itself refuses a second running row (two processes at once)
    second = Recording(
        booking_id=m.id, department_id=m.booking.department_id, state="recording", started_at=now()
    )

    def insert_second() -> None:
        with dbsession.begin_nested():
            dbsession.add(second)
            dbsession.flush()

    with pytest.raises(IntegrityError):
        insert_second()
    recording.add_file(dbsession, first.id, m.head.id, m.head.display_name, now())
    finished = recording.finish(dbsession, first.id, now(), {})
    assert finished is not None
    assert finished.state == "finished"
    assert recording.begin(dbsession, m.booking, now()) is not None


def test_finish_records_what_each_file_holds(dbsession):
    m = meeting()
    run = recording.begin(dbsession, m.booking, now())
    a = recording.add_file(dbsession, run.id, m.head.id, "甲", now())
    b = recording.add_file(dbsession, run.id, m.requester.id, "乙", now())
    recording.finish(dbsession, run.id, now() + timedelta(minutes=5), {a.id: (1000, 90)})
    dbsession.refresh(run)
    assert {(f.id, f.size, f.video_frames) for f in run.files} == {(a.id, 1000, 90), (b.id, 0, 0)}
    assert run.ended_at == now() + timedelta(minutes=5)


def _principals(user) -> list[str]:
    return [Everyone, Authenticated, *user.principals]


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("supervisor_all", True),
        ("supervisor_same", True),
        ("supervisor_other", False),
        ("head", False),
        ("requester", False),
        ("admin", False),
        ("inactive_supervisor", False),
    ],
)
def test_only_supervisors_of_the_scope_may_play(dbsession, who, allowed):
    m = meeting()
    other = factories.DepartmentFactory()
    users = {
        "supervisor_all": supervisor(),
        "supervisor_same": supervisor(department=m.head.department),
        "supervisor_other": supervisor(department=other),
        "head": m.head,
        "requester": m.requester,
        "admin": factories.UserFactory(roles=[Role.ADMIN]),
        "inactive_supervisor": supervisor(is_active=False),
    }
    user = users[who]
    run = recording_row(dbsession, m.booking, now())
    acl_holder = type("R", (), {"__acl__": recording.acl_for(run, user)})()
    permitted = ACLHelper().permits(acl_holder, _principals(user), Perm.MEETING_RECORDING_PLAY)
    assert bool(permitted) is allowed
    listed = [r.id for r in recording.in_scope(dbsession, user)] if user.is_active else []
    assert (run.id in listed) is allowed


def _files_on_disk(tmp_path, run) -> list[str]:
    paths = []
    for f in run.files:
        path = recording.file_path(str(tmp_path), f.id)
        with open(path, "wb") as handle:
            handle.write(b"\x1a\x45\xdf\xa3 webm")
        paths.append(path)
    return paths


def test_purge_deletes_files_after_the_retention_period(dbsession, clock, tmp_path):
    m = meeting()
    old = recording_row(dbsession, m.booking, clock.now(), files=2)
    newer = recording_row(dbsession, m.booking, clock.now() + timedelta(days=1))
    old_paths, new_paths = _files_on_disk(tmp_path, old), _files_on_disk(tmp_path, newer)

    clock.advance(days=90)
    assert recording.purge_expired(dbsession, str(tmp_path), clock.now(), 90) == 0
    assert all(os.path.exists(p) for p in old_paths + new_paths)

    clock.advance(seconds=1)
    assert recording.purge_expired(dbsession, str(tmp_path), clock.now(), 90) == 1
    assert not any(os.path.exists(p) for p in old_paths)
    assert all(os.path.exists(p) for p in new_paths)
    assert old.state == "purged"
    assert old.purged_at == clock.now()
    assert [a.action for a in dbsession.scalars(select(RecordingAccess))] == ["purge"]

    # a second run, or another process doing the same, changes nothing
    assert recording.purge_expired(dbsession, str(tmp_path), clock.now(), 90) == 0
    clock.advance(days=1)
    assert recording.purge_expired(dbsession, str(tmp_path), clock.now(), 90) == 1
    assert newer.state == "purged"


def test_a_file_already_gone_does_not_stop_the_purge(dbsession, clock, tmp_path):
    m = meeting()
    run = recording_row(dbsession, m.booking, clock.now(), files=2)
    first, second = _files_on_disk(tmp_path, run)
    os.remove(first)
    clock.advance(days=31)
    assert recording.purge_expired(dbsession, str(tmp_path), clock.now(), 30) == 1
    assert not os.path.exists(second)


def test_the_job_uses_the_retention_setting_in_its_own_transaction(
    dbsession, clock, tmp_path, settings
):
    m = meeting()
    run = recording_row(dbsession, m.booking, clock.now())
    (path,) = _files_on_disk(tmp_path, run)
    registry = Registry("test")
    registry.settings = {
        **settings,
        "qzt.meetings.recording_dir": str(tmp_path),
        "qzt.meetings.recording_retention_days": 7,
    }
    # The job's sessions join the test's connection, so its commit stays inside
    # the test's rolled-back transaction.
    registry["dbsession_factory"] = sessionmaker(
        bind=dbsession.connection(), join_transaction_mode="create_savepoint"
    )
    clock.advance(days=6)
    assert recording.purge_job(registry, clock.now()) == 0
    clock.advance(days=1, seconds=1)
    assert recording.purge_job(registry, clock.now()) == 1
    assert not os.path.exists(path)
    dbsession.expire_all()
    assert dbsession.get(Recording, run.id).state == "purged"


def test_a_run_left_open_by_a_dead_process_is_closed_after_its_meeting(dbsession, clock, tmp_path):
    m = meeting(start=clock.now())
    run = recording.begin(dbsession, m.booking, clock.now())
    f = recording.add_file(dbsession, run.id, m.head.id, "甲", clock.now())
    with open(recording.file_path(str(tmp_path), f.id), "wb") as handle:
        handle.write(b"x" * 123)
    clock.advance(minutes=30 + 30)  # still inside the window: may still be recording
    assert recording.close_abandoned(dbsession, str(tmp_path), clock.now()) == 0
    clock.advance(minutes=1)
    assert recording.close_abandoned(dbsession, str(tmp_path), clock.now()) == 1
    assert run.state == "finished"
    assert f.size == 123
    assert recording.running(dbsession, m.id) is None


def test_file_paths_take_only_generated_ids(tmp_path):
    assert recording.file_path(str(tmp_path), "a" * 32).endswith("a" * 32 + ".webm")
    for bad in ("../../etc/passwd", "a" * 31, "a" * 31 + "/", ""):
        with pytest.raises(ValueError, match="bad recording file id"):
            recording.file_path(str(tmp_path), bad)
