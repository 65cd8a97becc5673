"""The pure validators of enterprise identity data: USCC, phone numbers, passwords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.accounts.validation import (
    USCC_ALPHABET,
    normalise_phone,
    normalise_uscc,
    password_error,
    phone_error,
    uscc_check_char,
    uscc_error,
)

# -- 统一社会信用代码 (GB 32100-2015) -------------------------------------------------

#: Codes printed on real business licences (Baidu, Ping An, Tencent, Huawei): the
#: check-character arithmetic must agree with the standard, not only with itself.
PUBLISHED_CODES = [
    "91110108551385082Q",
    "914403001922038216",
    "91440300708461136T",
    "9144030071526726XG",
]


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    """Any code GB 32100 allows: authority + category, 6-digit region, 9-char org code, check."""
    alphabet = st.sampled_from(USCC_ALPHABET)
    head = "".join(draw(st.lists(alphabet, min_size=2, max_size=2)))
    region = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6)))
    org = "".join(draw(st.lists(alphabet, min_size=9, max_size=9)))
    body = head + region + org
    return body + uscc_check_char(body)


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_published_codes_are_valid(code):
    assert uscc_error(code) is None


@given(valid_codes())
def test_every_generated_valid_code_passes(code):
    assert uscc_error(code) is None
    # as typed by people: lower case, spaces, full-width characters from a Chinese IME
    assert uscc_error(f" {code[:6].lower()} {code[6:]} ") is None
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert uscc_error(full_width) is None
    assert normalise_uscc(full_width) == code


@given(valid_codes(), st.data())
def test_every_single_character_change_fails(code, data):
    position = data.draw(st.integers(min_value=0, max_value=17), label="position")
    original = code[position]
    # Any character at all, except one that reads as the same after normalising
    # ("a" for "A", a full-width "Ａ"): that is the same code, typed differently.
    replacement = data.draw(
        st.one_of(st.sampled_from(USCC_ALPHABET), st.characters()).filter(
            lambda c: normalise_uscc(c) != original
        ),
        label="replacement",
    )
    changed = code[:position] + replacement + code[position + 1 :]
    assert uscc_error(changed) is not None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "18 characters"),
        ("91110108551385082", "18 characters"),
        ("91110108551385082QQ", "18 characters"),
        ("9111010855138508IQ", "characters it cannot have"),  # I is not in the alphabet
        ("91110108551385082O", "characters it cannot have"),
        ("91A10108551385082Q", "characters it cannot have"),  # region must be digits
        ("91١10108551385082Q", "characters it cannot have"),  # an Arabic-Indic digit
        ("91110108551385082R", "check character"),
    ],
)
def test_invalid_codes_say_why(raw, reason):
    error = uscc_error(raw)
    assert error is not None
    assert reason in error


def test_check_character_can_be_zero():
    # a remainder of 0 gives check "0", not the 32nd character of a 31-letter alphabet
    body = next(
        b for b in (f"9144070000000{n:04d}" for n in range(10_000)) if uscc_check_char(b) == "0"
    )
    assert uscc_error(body + "0") is None


# -- phone numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "19912345678",
        "+86 138 0013 8000",
        "１３８００１３８０００",  # full-width digits
        "0750-3500000",
        "07503500000",
        "010-12345678",
        "0750-3500000-8021",
        "0750－3500000",  # full-width hyphen
    ],
)
def test_mobile_and_landline_numbers_with_area_code_are_accepted(phone):
    assert phone_error(phone) is None


@pytest.mark.parametrize(
    "phone",
    [
        "",
        "3500000",  # landline without its area code
        "12800138000",  # no mobile prefix 12
        "1380013800",
        "138001380001",
        "0750-35000",
        "phone",
        "١٣٨٠٠١٣٨٠٠٠",  # digits of another script are not a Chinese phone number
    ],
)
def test_other_numbers_are_refused(phone):
    error = phone_error(phone)
    assert error is not None
    assert "area code" in error


def test_phone_numbers_are_stored_in_one_form():
    assert normalise_phone(" +86 138 0013 8000 ") == "13800138000"
    assert normalise_phone("0750－3500000") == "0750-3500000"


# -- passwords ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "min_length", "reason"),
    [
        ("Short-1", 8, "at least ${n}"),
        ("Eleven-Char", 12, "at least ${n}"),
        ("a" * 64 + "B" * 65, 8, "at most 128"),
        ("alllowercaseletters", 8, "two of"),
        ("12345678901234", 8, "two of"),
    ],
)
def test_weak_passwords_are_refused(password, min_length, reason):
    error = password_error(password, min_length)
    assert error is not None
    assert reason in error


@pytest.mark.parametrize(
    ("password", "min_length"),
    [
        ("lowercase1", 8),
        ("Correct-Horse-42", 12),
        ("密码是中文加数字12345", 8),
        ("a" * 127 + "B", 8),
    ],
)
def test_good_passwords_pass(password, min_length):
    assert password_error(password, min_length) is None
