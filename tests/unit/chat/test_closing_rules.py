"""Pure rules of the chat-web side: the rating form, the 留言 form, canned replies."""

from __future__ import annotations

import pytest

from portal.chat.canned import checked
from portal.chat.closing import RATINGS, parse_rating
from portal.chat.offline import parse
from portal.errors import InputError


def test_five_levels_best_first():
    assert [n for n, _label in RATINGS] == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("raw", ["", "0", "6", "-1", "3.5", "五", None])
def test_a_rating_outside_the_five_levels_is_refused(raw):
    with pytest.raises(InputError) as error:
        parse_rating(raw, "")
    assert error.value.field == "rating"


def test_a_rating_is_kept_with_its_trimmed_comment():
    assert parse_rating(" 4 ", "  很好  ") == (4, "很好")
    with pytest.raises(InputError, match="too long"):
        parse_rating("4", "字" * 1001)


def valid(**changes):
    data = {"kind": "consult", "title": "社保", "text": "请问？", "email": "a@example.com"}
    return {**data, **changes}


def test_a_message_is_parsed_and_trimmed():
    message = parse(valid(title="  社保  ", text=" 请问？ "))
    assert (message.kind, message.title, message.text) == ("consult", "社保", "请问？")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "report"}, "kind"),  # 举报 goes through the complaints form, not 留言
        ({"title": " "}, "title"),
        ({"title": "题" * 101}, "title"),
        ({"text": ""}, "text"),
        ({"text": "字" * 2001}, "text"),
        ({"email": "a@b"}, "email"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
    ],
)
def test_the_first_wrong_field_is_named(changes, field):
    with pytest.raises(InputError) as error:
        parse(valid(**changes))
    assert error.value.field == field


def test_canned_reply_rules():
    assert checked({"title": " 问候 ", "body": " 您好 "}) == ("问候", "您好")
    for bad, field in (({"title": "", "body": "x"}, "title"), ({"title": "t", "body": ""}, "body")):
        with pytest.raises(InputError) as error:
            checked(bad)
        assert error.value.field == field
