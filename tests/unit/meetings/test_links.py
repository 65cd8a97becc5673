"""Signed reschedule/cancel links: genuine, forged, expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.meetings import links

SECRET = "s3cret"
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
CLAIMS = links.LinkClaims(7, "enterprise", 2, NOW + timedelta(days=1))


def test_round_trip():
    token = links.sign(SECRET, CLAIMS)
    assert links.verify(SECRET, token, NOW) == links.LinkClaims(
        7, "enterprise", 2, CLAIMS.expires.replace(microsecond=0)
    )


def test_expired():
    token = links.sign(SECRET, CLAIMS)
    with pytest.raises(links.LinkInvalid) as info:
        links.verify(SECRET, token, CLAIMS.expires)
    assert info.value.reason == "expired"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: links.sign("other", CLAIMS),  # another key
        lambda t: "x" + t,  # payload changed
        lambda t: t.replace(".", ""),  # no separator
        lambda t: "",
        lambda t: "a.b.c",
        lambda t: "%%%.###",
    ],
)
def test_forged(mangle):
    token = mangle(links.sign(SECRET, CLAIMS))
    with pytest.raises(links.LinkInvalid) as info:
        links.verify(SECRET, token, NOW)
    assert info.value.reason == "forged"


def test_a_validly_signed_but_malformed_body_is_forged():
    payload = links._b64(b'{"b": "x"}')
    token = f"{payload}.{links._mac(SECRET, payload)}"
    with pytest.raises(links.LinkInvalid) as info:
        links.verify(SECRET, token, NOW)
    assert info.value.reason == "forged"
