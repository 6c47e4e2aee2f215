"""Header work grows with the header's size, never with its square (issue 10).

A Subject folded over 500,000 lines took the old split 11.6 s of the event loop, and 3.1
million lines more than ten minutes: each continuation line copied the field so far.
These tests time every header operation the proxy does, on N and on 4N lines, within one
run: linear work takes about 4 times as long, quadratic about 16 times. Ratios, not wall
times, so a slow or busy machine does not decide the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from milter.auth.results import remove_our_auth_results
from milter.config import HeaderNames
from milter.mail.headers import (
    add_fields,
    first_field,
    header_size,
    prefix_subject,
    remove_fields,
    split_message,
)
from milter.service.proxy import subject_for_list

UNLIMITED = 1 << 40  # the limits are not what is tested here: the work under them is
# Linear work scales by 4 (plus noise), quadratic by 16: the bar sits between.
MAX_RATIO = 8.0


def _proxy_header_work(raw: bytes) -> bytes:
    """Everything the proxy does to a header block, in the order it does it."""
    names = HeaderNames()
    header_size(raw, UNLIMITED, UNLIMITED)
    subject_for_list(raw, UNLIMITED, UNLIMITED)
    first_field(raw, "x-not-there", UNLIMITED, UNLIMITED)
    message = remove_fields(split_message(raw), names.all(), (names.prefix,))
    message = remove_our_auth_results(message, "scam-milter")
    message = add_fields(message, [(names.verdict, "tag"), (names.score, "7")])
    message = prefix_subject(message, "[SCAM?] ")
    return message.to_bytes()


def _folded_subject(lines: int) -> bytes:
    return (
        b"From: a@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
        + b" y\r\n" * lines
        + b"X-Scam-Verdict: accept\r\n\r\nbody\r\n"
    )


def _many_fields(lines: int) -> bytes:
    # Fields the proxy removes, among others it keeps, and the Subject last.
    field = b"X-Scam-Forged: 1\r\nAuthentication-Results: scam-milter; spf=pass\r\nX-Ok: 2\r\n"
    return field * (lines // 3) + b"Subject: hi\r\n\r\nbody\r\n"


def _best_of(work: Callable[[bytes], object], raw: bytes, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work(raw)
        best = min(best, time.perf_counter() - started)
    return best


# A Python step per field costs about a microsecond per operation: fewer of them.
@pytest.mark.parametrize(("shape", "lines"), [(_folded_subject, 100_000), (_many_fields, 25_000)])
def test_header_work_is_linear_in_the_line_count(shape: Callable[[int], bytes], lines: int) -> None:
    small, large = shape(lines), shape(4 * lines)
    _proxy_header_work(small)  # warm up (regex compilation, allocator)
    ratio = _best_of(_proxy_header_work, large) / _best_of(_proxy_header_work, small)
    assert ratio < MAX_RATIO, f"4x the lines took {ratio:.1f}x the time"


def test_the_result_is_still_right_for_a_huge_folded_subject() -> None:
    raw = _folded_subject(3_000_000)  # 12 MB: the "no reply in 600 s" case
    started = time.perf_counter()
    out = _proxy_header_work(raw)
    elapsed = time.perf_counter() - started
    assert out.startswith(b"X-Scam-Verdict: tag\r\nX-Scam-Score: 7\r\nFrom: a@example.org\r\n")
    assert b"Subject: [SCAM?] =?utf-8?q?caf=C3=A9?=\r\n y\r\n" in out
    assert b"accept" not in out
    assert len(out) == len(raw) + len(b"X-Scam-Verdict: tag\r\nX-Scam-Score: 7\r\n[SCAM?] ") - len(
        b"X-Scam-Verdict: accept\r\n"
    )
    assert subject_for_list(raw, UNLIMITED, UNLIMITED).startswith("café y y")
    # Generous (a linear pass over 12 MB takes well under a second), but the old code
    # needed more than ten minutes here.
    assert elapsed < 30, f"{elapsed:.1f}s"
