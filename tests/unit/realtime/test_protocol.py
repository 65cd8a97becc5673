"""Pure protocol pieces: frame parsing, the token bucket, handler registration."""

from __future__ import annotations

import pytest

from realtime import dispatch
from realtime.dispatch import ProtocolError, field, reply
from realtime.protocol import TokenBucket, parse


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{oops", "bad_json"),
        ("[]", "bad_json"),
        ('"text"', "bad_json"),
        ("{}", "bad_message"),
        ('{"type": 3}', "bad_message"),
        ('{"type": ""}', "bad_message"),
        ('{"type": "' + "x" * 65 + '"}', "bad_message"),
        (b'{"type": "ping"}', "bad_message"),
    ],
)
def test_bad_frames_get_their_error_code(raw, code):
    with pytest.raises(ProtocolError) as err:
        parse(raw)
    assert err.value.code == code


def test_a_good_frame_parses():
    assert parse('{"type": "chat.send", "ref": 1}') == {"type": "chat.send", "ref": 1}


def test_the_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=2, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.refused == 1
    assert not bucket.take(0.1)
    assert bucket.refused == 2
    assert bucket.take(0.6)  # 0.6 s × 2/s refilled one token
    assert bucket.refused == 0
    assert bucket.take(100.0)
    assert bucket.tokens == 2


def test_fields_are_type_checked():
    msg = {"type": "x", "conversation": 5, "flag": True, "name": "a"}
    assert field(msg, "conversation", int) == 5
    assert field(msg, "missing", int, optional=True) is None
    with pytest.raises(ProtocolError):
        field(msg, "flag", int)  # JSON true is not a number
    with pytest.raises(ProtocolError):
        field(msg, "name", int)
    with pytest.raises(ProtocolError):
        field(msg, "missing", str)


def test_replies_echo_the_ref():
    assert reply({"type": "a", "ref": 7}, "b", x=1) == {"type": "b", "x": 1, "ref": 7}
    assert reply({"type": "a"}, "b", message={"m": 1}) == {"type": "b", "message": {"m": 1}}


def test_a_type_has_one_handler():
    import realtime.chat  # noqa: F401 (registers chat.*)

    assert "chat.send" in dispatch.REGISTRY.handlers
    with pytest.raises(ValueError, match="two handlers"):

        @dispatch.handler("chat.send")
        async def again(hub, conn, message):
            pass
