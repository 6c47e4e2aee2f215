"""Quarantine entry ids: made here, checked here before any use as a file name.

10 base-36 digits of milliseconds since the epoch (enough until the year 5000 and far
beyond) then 16 random base-36 digits (~82 bits): ids sort by time as text, and two
instances writing one directory cannot collide in practice. Only [0-9a-z], fixed length:
an id can never be '', '.', '..' or contain '/', so it cannot name another path.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from milter.errors import QuarantineError

ID_LENGTH = 26
_TIME_DIGITS = 10
_RANDOM_DIGITS = ID_LENGTH - _TIME_DIGITS
_ID_RE = re.compile(r"[0-9a-z]{26}")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def is_valid_id(entry_id: object) -> bool:
    """True when ``entry_id`` has the shape of a quarantine id (and so names no path)."""
    return isinstance(entry_id, str) and _ID_RE.fullmatch(entry_id) is not None


def new_id(now: datetime) -> str:
    """A fresh id for a message quarantined at ``now``: time prefix, random suffix."""
    millis = int(now.timestamp() * 1000)
    return base36(millis, _TIME_DIGITS) + base36(
        secrets.randbelow(36**_RANDOM_DIGITS), _RANDOM_DIGITS
    )


def checked_id(entry_id: object) -> str:
    """``entry_id`` itself when it is an id; QuarantineError otherwise.

    Called before the id is used for anything, so a crafted id ("../x", "a/b", "") never
    reaches a file name or a query.
    """
    if not is_valid_id(entry_id):
        shown = repr(entry_id)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        raise QuarantineError(f"{shown} is not a quarantine id.")
    assert isinstance(entry_id, str)
    return entry_id


def base36(number: int, width: int) -> str:
    """``number`` in exactly ``width`` base-36 digits; ValueError when it does not fit."""
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 36)
        digits.append(_DIGITS[digit])
    if number:
        raise ValueError(f"{number} does not fit in {width} base-36 digits")
    return "".join(reversed(digits))
