"""A big message read from its own bytes (milter/mail/mime_raw.py) reads as the stdlib
parse reads it.

Messages from mime_raw.BIG_MESSAGE on are parsed with their long stretches of body left
in the raw bytes behind tokens. Here the threshold is lowered to 0 and the stretch size
to a few bytes, so that every message and nearly every stretch takes that path, and the
view (or the whole message tree) is compared with the stdlib's: the sample messages,
hand-made hard cases, and generated MIME trees with every boundary-like line and defect
the parser distinguishes.
"""

from __future__ import annotations

import base64
import random
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from milter.mail import mime_raw
from milter.mail.mime_raw import RawBodies
from milter.mail.view import MessageView, ViewLimits, parse_message
from tests.helpers.limit_cases import after_blank_lines, after_parts, nested, with_pdf

MESSAGES = sorted((Path(__file__).parents[1] / "messages").rglob("*.eml"))
B64 = base64.encodebytes(b"%PDF-1.4 a small file " * 20).replace(b"\n", b"\r\n")

HARD_CASES = {
    "digest and delivery-status": (
        b"Content-Type: multipart/report; boundary=r\r\n\r\n--r\r\n\r\nYour mail failed\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        b"Final-Recipient: rfc822; a@b\r\nAction: failed\r\n\r\n--r\r\n"
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
        b"Subject: inner\r\n\r\nbody of the digest part\r\n--d--\r\n--r--\r\n"
    ),
    "no close boundary, no start boundary": (
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\n"
        b"text\n--x\nContent-Type: multipart/alternative; boundary=y\n\nno start\n"
    ),
    "boundaries sharing a prefix": (
        b'Content-Type: multipart/mixed; boundary="=_a"\r\n\r\n--=_a\r\n'
        b'Content-Type: multipart/alternative; boundary="=_a_b"\r\n\r\n--=_a_b\r\n\r\n'
        b"one\r\n--=_a_bc\r\nnot a boundary\r\n--=_a_b--\r\n--=_a\r\n\r\ntwo\r\n--=_a--\r\n"
    ),
    "lone CR lines and 8-bit text": (
        b"Content-Type: multipart/mixed; boundary=z\r\r--z\rContent-Type: text/plain;"
        b" charset=latin-1\r\r caf\xe9\r\r\n--z \r\n\r\ntail\r--z--"
    ),
    "base64 message/rfc822": (
        b"Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: message/rfc822\n"
        b"Content-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(b"Subject: inside\r\n\r\nThe inner text\r\n")
        + b"--m--\n"
    ),
    "uuencode and broken base64": (
        b"Content-Type: multipart/mixed; boundary=u\n\n--u\nContent-Transfer-Encoding: "
        b"x-uuencode\n\nbegin 644 a.txt\n#86)C\n`\nend\n--u\nContent-Type: application/pdf\n"
        b"Content-Transfer-Encoding: base64\n\n" + B64[:-7] + b"*!*\n--u--\n"
    ),
    "token-like text": b"Subject: x\n\n\x00deadbeefdeadbeef0\x00\n\x00 nul \x00\n",
    "From lines and continuations": (
        b"From someone Mon Jan 1\n continued\nX: y\nFrom misplaced\nSubject: s\n"
        b"text without a blank line\nFrom the body\n"
    ),
    "not a message": b"just some words\nwith: a colon later\n\n\nand more\n",
    "blank lines then text": after_blank_lines(3_000),
    "hundreds of parts": after_parts(520),
    "nested deep": nested(40),
    "a pdf": with_pdf(b"%PDF-1.4\n%%EOF\n"),
}


DEFAULT_LIMITS = ViewLimits()


def view_both_ways(
    raw: bytes, run: int, monkeypatch: pytest.MonkeyPatch, limits: ViewLimits = DEFAULT_LIMITS
) -> tuple[MessageView, MessageView]:
    monkeypatch.setattr(mime_raw, "BIG_MESSAGE", 1 << 62)
    expected = parse_message(raw, limits=limits)
    monkeypatch.setattr(mime_raw, "BIG_MESSAGE", 0)
    monkeypatch.setattr(mime_raw, "MIN_RUN", run)
    return expected, parse_message(raw, limits=limits)


@pytest.mark.parametrize("run", [1, 7, 200])
@pytest.mark.parametrize(
    "raw",
    [*HARD_CASES.values(), *(path.read_bytes() for path in MESSAGES)],
    ids=[*HARD_CASES, *(path.name for path in MESSAGES)],
)
def test_the_view_is_the_stdlib_view(raw: bytes, run: int, monkeypatch: pytest.MonkeyPatch) -> None:
    expected, got = view_both_ways(raw, run, monkeypatch)
    assert got == expected


def test_the_hard_cases_take_the_raw_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guard for the test above: tokens are made, and bodies are read from them.
    made = []
    original = RawBodies.token

    def token(self: RawBodies, raw: bytes, start: int, end: int) -> str:
        made.append(raw[start:end])
        return original(self, raw, start, end)

    monkeypatch.setattr(RawBodies, "token", token)
    view_both_ways(HARD_CASES["uuencode and broken base64"], 1, monkeypatch)
    assert b"begin 644 a.txt\n#86)C\n`\nend" in made  # the uuencoded body, behind a token
    assert any(body.startswith(B64[:20]) for body in made)


@pytest.mark.parametrize(("max_parts", "empty"), [(2, 5), (5, 4)])
def test_skipped_and_tail_parts_read_the_same(
    max_parts: int, empty: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parts past max_parts are only walked (their payload tested for blankness as text,
    # 8-bit bytes in their charset), and the last ones read at the end.
    parts = [
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n"
        b"\r\n\xa0 \xa0\r\n\xa0\r\n",
        b"Content-Type: text/plain\r\n\r\n \t \r\n\x1c\r\n",
        b"Content-Type: text/plain\r\n\r\nPay 1300 euro in bitcoin\r\n",
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + B64,
    ]
    raw = b"Content-Type: multipart/mixed; boundary=p\r\n\r\n"
    raw += b"".join(b"--p\r\n" + part for part in parts * 3) + b"--p--\r\n"
    expected, got = view_both_ways(raw, 1, monkeypatch, ViewLimits(max_parts=max_parts))
    assert got == expected
    # Skipped, the latin-1 no-break spaces and the \x1c are blank (as text); read, not
    # (as bytes).
    assert expected.structure.empty_parts == empty


def test_a_big_message_reads_as_the_stdlib_reads_it() -> None:
    # Real thresholds: a long text with boundary-like lines, a base64 attachment, a
    # part whose headers are followed by a long body without a blank line.
    text = b"".join(b"line %d of the letter\r\n" % n for n in range(40_000))
    raw = (
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
        b"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain\r\n\r\n" + text + b"--inner-not\r\n--outerx\r\n"
        b"-- \r\n" + text + b"--inner--\r\n"
        b"--outer\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(bytes(range(256)) * 4_000)
        + b"--outer\r\n"
        b"Content-Type: text/plain\r\nno blank line: this is the body\r\n" + text + b"--outer--\r\n"
    )
    assert len(raw) > mime_raw.BIG_MESSAGE
    bodies = RawBodies()
    message = mime_raw.parse(raw, policy.default, bodies)
    reference = BytesParser(policy=policy.default).parsebytes(raw)
    assert tree(message, bodies) == tree(reference, None)
    assert parse_message(raw) == parse_message_with_stdlib(raw)


def parse_message_with_stdlib(raw: bytes) -> MessageView:
    old = mime_raw.BIG_MESSAGE
    mime_raw.BIG_MESSAGE = 1 << 62  # type: ignore[misc]
    try:
        return parse_message(raw)
    finally:
        mime_raw.BIG_MESSAGE = old  # type: ignore[misc]


def tree(message: Message, bodies: RawBodies | None) -> list[object]:
    """Everything the parser decided, part by part, with tokens put back."""
    out: list[object] = []
    for part in message.walk():
        if bodies is not None:
            bodies.expand(part)
            for name in ("preamble", "epilogue"):
                value = getattr(part, name)
                if isinstance(value, str) and "\x00" in value:
                    setattr(part, name, bodies._token.sub(bodies._text, value))
        payload = part._payload  # type: ignore[attr-defined]
        out.append(
            (
                part.raw_items() and list(part.raw_items()),
                [f"{type(defect).__name__}: {defect}" for defect in part.defects],
                part.get_unixfrom(),
                part.preamble,
                part.epilogue,
                part.get_default_type(),
                len(payload) if isinstance(payload, list) else payload,
            )
        )
    return out


# --- generated MIME trees ------------------------------------------------------------------

EOLS = (b"\r\n", b"\n", b"\r")
BOUNDARIES = (b"b1", b"b1x", b"", b"=_a", b"x")


def line(rng: random.Random) -> bytes:
    """A line of some kind the parser tells apart."""
    eol = rng.choice(EOLS)
    return rng.choice(
        [
            b"text line" + eol,
            eol,
            b"Header: like" + eol,
            b"--"
            + rng.choice(BOUNDARIES)
            + rng.choice([b"", b"--", b" ", b"--  ", b"x"])
            + rng.choice((*EOLS, b"")),
            b" \t" + eol,
            b"From x" + eol,
            b"\xff\xfe 8bit" + eol,
            b"\x0b\x1c" + eol,
            b"QUJDRA==" + eol,
        ]
    )


def generated(rng: random.Random, depth: int = 0) -> bytes:
    eol = rng.choice(EOLS) if rng.random() < 0.3 else b"\r\n"
    boundary = rng.choice(BOUNDARIES)
    kind = rng.choice(["multipart", "message", "delivery", "digest", "text", "text"])
    if depth >= 3 and kind != "delivery":
        kind = "text"
    head = [b"From someone" + eol] if rng.random() < 0.1 else []
    head += [b" continuation" + eol] if rng.random() < 0.1 else []
    head.append(
        {
            "multipart": b'Content-Type: multipart/mixed; boundary="' + boundary + b'"',
            "message": b"Content-Type: message/rfc822",
            "delivery": b"Content-Type: message/delivery-status",
            "digest": b"Content-Type: multipart/digest; boundary=" + boundary,
            "text": b"Content-Type: text/plain",
        }[kind]
        + eol
    )
    if rng.random() < 0.2:
        head.append(b"Content-Transfer-Encoding: base64" + eol)
    if rng.random() < 0.85:
        head.append(eol)
    body: list[bytes] = []
    if kind in ("multipart", "digest"):
        body += [line(rng) for _ in range(rng.randrange(3))]
        for _ in range(rng.randrange(4)):
            body += [b"--" + boundary + rng.choice([b"", b" ", b"\t"]) + eol] * rng.randrange(1, 3)
            body.append(generated(rng, depth + 1))
        if rng.random() < 0.8:
            body.append(b"--" + boundary + b"--" + rng.choice([eol, b"", b"  " + eol]))
        body += [line(rng) for _ in range(rng.randrange(3))]
    elif kind == "message":
        body.append(generated(rng, depth + 1))
    else:
        body += [line(rng) for _ in range(rng.randrange(8))]
    return b"".join(head + body)


@pytest.mark.parametrize("seed", range(6))
def test_generated_trees_parse_as_the_stdlib_parses_them(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(mime_raw, "BIG_MESSAGE", 0)
    for _ in range(400):
        raw = generated(rng)
        if rng.random() < 0.2:
            raw = raw[: rng.randrange(len(raw) + 1)]
        monkeypatch.setattr(mime_raw, "MIN_RUN", rng.choice([1, 2, 5, 20]))
        bodies = RawBodies()
        expected = tree(BytesParser(policy=policy.default).parsebytes(raw), None)
        assert tree(mime_raw.parse(raw, policy.default, bodies), bodies) == expected, raw
