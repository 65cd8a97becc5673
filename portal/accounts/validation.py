"""Pure validators for enterprise identity data. No I/O, so they are tested exhaustively."""

from __future__ import annotations

import re
import unicodedata

from portal.i18n import N_

# GB 32100-2015 统一社会信用代码: 18 characters from this 31-character alphabet
# (digits and capitals without I, O, S, V, Z); the last is a mod-31 check character.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# [0-9], not \d: \d also matches other scripts' digits, which the check sum cannot weigh.
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _halfwidth(raw: str) -> str:
    # Chinese input methods often type full-width characters (１２３, ＡＢＣ, －);
    # NFKC turns them into the ASCII ones the rules below expect.
    return unicodedata.normalize("NFKC", raw)


def normalise_uscc(raw: str) -> str:
    return _halfwidth(raw).strip().upper().replace(" ", "")


def uscc_error(raw: str) -> str | None:
    """Why ``raw`` is not a valid 统一社会信用代码, or None when it is."""
    code = normalise_uscc(raw)
    if len(code) != 18:
        return N_("The unified social credit code must have 18 characters.")
    if not _USCC_SHAPE.match(code):
        return N_("The unified social credit code contains characters it cannot have.")
    if uscc_check_char(code[:17]) != code[17]:
        return N_("The check character of the unified social credit code is wrong.")
    return None


_MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
# 区号 (3–4 digits starting with 0) + number (7–8 digits) + optional extension
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$", re.ASCII)


def normalise_phone(raw: str) -> str:
    phone = _halfwidth(raw).strip().replace(" ", "").replace("—", "-")
    if phone.startswith("+86"):
        phone = phone[3:]
    return phone


def phone_error(raw: str) -> str | None:
    phone = normalise_phone(raw)
    if _MOBILE.match(phone) or _LANDLINE.match(phone):
        return None
    return N_(
        "Enter a mobile number (11 digits) or a landline with its area code, e.g. 0750-3500000."
    )


def password_error(password: str, min_length: int) -> str | None:
    if len(password) < min_length:
        return N_("The password must have at least ${n} characters.")
    if len(password) > 128:
        return N_("The password may have at most 128 characters.")
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            # Chinese characters have no case: they count with the symbols, so a
            # password of 汉字 and digits is two kinds, as it is to a person.
            any(not (c.isascii() and c.isalnum()) for c in password),
        )
    )
    if kinds < 2:
        return N_("Use at least two of: lower-case letters, capitals, digits, symbols.")
    return None
