"""Decoding a body a chunk at a time gives what decoding it whole gives.

``LazyBody`` (milter/mail/body_stream.py) stands in for ``Message.get_payload(decode=True)`` on the
bodies of big messages, and ``squeeze_clip_count`` (clip.py) for squeezing a whole text
before clipping it. Each is checked against the whole-body original on arbitrary input
cut into arbitrary chunks: broken base64 (every fallback of decode_b), quoted-printable
with escapes across line breaks, blank runs across chunk ends.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter.mail import body_stream
from milter.mail.body_stream import LazyBody, text_is_blank
from milter.mail.clip import head_and_tail_bytes, squeeze, squeeze_bytes, squeeze_clip_count

BASE64_BYTES = st.lists(
    st.sampled_from(
        [
            *(bytes([c]) for c in b"QUJDRGVmZ2g0NTY3+/"),
            b"=",
            b"==",
            b"\r\n",
            b"\n",
            b"\r",
            b" ",
            b"*",
            b"\xff",
        ]
    ),
    max_size=40,
).map(b"".join)
VALID_BASE64 = st.binary(max_size=200).map(lambda data: base64.encodebytes(data))
QP_BYTES = st.lists(
    st.sampled_from(
        [
            *(b"a", b"Z", b"0", b" ", b"\t", b"=", b"=3D", b"=C3=A9", b"=\r\n", b"=\n"),
            *(b"=\r", b"=4", b"=g1", b"\r\n", b"\n", b"\r", b"\xe9", b"_"),
        ]
    ),
    max_size=40,
).map(b"".join)


def part_with(encoding: str) -> EmailMessage:
    part = EmailMessage(policy=policy.default)
    if encoding:
        part["Content-Transfer-Encoding"] = encoding
    return part


def whole(payload: bytes, encoding: str) -> tuple[bytes, list[str]]:
    """get_payload(decode=True) on the whole payload, and the defects it adds."""
    part = part_with(encoding)
    part.set_payload(payload.decode("ascii", "surrogateescape"))
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data, [type(defect).__name__ for defect in part.defects]


def pieces_of(payload: bytes, cuts: list[int]) -> list[bytes | memoryview]:
    """``payload`` cut at ``cuts``, some pieces as memoryviews (slices of the message)."""
    bounds = [0, *sorted(min(cut, len(payload)) for cut in cuts), len(payload)]
    pieces: list[bytes | memoryview] = []
    for number, (start, end) in enumerate(itertools.pairwise(bounds)):
        if end > start:
            piece = payload[start:end]
            pieces.append(memoryview(piece) if number % 2 else piece)
    return pieces or [b""]


def check_lazy(payload: bytes, encoding: str, cuts: list[int], chunk: int) -> None:
    expected, defects = whole(payload, encoding)
    part = part_with(encoding)
    old_chunk = body_stream.CHUNK
    body_stream.CHUNK = chunk
    try:
        body = LazyBody(pieces_of(payload, cuts), encoding, part)
        streamed = b"".join(body.chunks())
        data = body.data()
    finally:
        body_stream.CHUNK = old_chunk
    assert (streamed, data) == (expected, expected)
    assert [type(defect).__name__ for defect in part.defects] == defects
    assert body.size == len(expected)
    assert body.blank == (not expected or expected.isspace())
    assert body.head == expected[: body_stream.HEAD]


CUTS = st.lists(st.integers(min_value=0, max_value=300), max_size=4)
CHUNKS = st.sampled_from([1, 2, 3, 4, 5, 7, 1 << 20])


@settings(max_examples=600, deadline=None)
@given(payload=BASE64_BYTES, cuts=CUTS, chunk=CHUNKS)
def test_broken_base64_decodes_as_get_payload(payload: bytes, cuts: list[int], chunk: int) -> None:
    check_lazy(payload, "base64", cuts, chunk)


@settings(max_examples=200, deadline=None)
@given(payload=VALID_BASE64, cuts=CUTS, chunk=CHUNKS, unpadded=st.booleans())
def test_base64_decodes_as_get_payload(
    payload: bytes, cuts: list[int], chunk: int, unpadded: bool
) -> None:
    check_lazy(payload.rstrip(b"=\n") if unpadded else payload, "base64", cuts, chunk)


@settings(max_examples=400, deadline=None)
@given(
    payload=QP_BYTES,
    cuts=CUTS,
    chunk=CHUNKS,
    encoding=st.sampled_from(["quoted-printable", "8bit", ""]),
)
def test_quoted_printable_and_plain_decode_as_get_payload(
    payload: bytes, cuts: list[int], chunk: int, encoding: str
) -> None:
    check_lazy(payload, encoding, cuts, chunk)


@pytest.mark.parametrize(
    ("payload", "defects"),
    [
        (b"QUJD\r\nREVG\r\n", []),
        (b"QUJDRA", ["InvalidBase64PaddingDefect"]),
        (b"QUJD*REVG", ["InvalidBase64CharactersDefect"]),
        (b"QUJ*DRA", ["InvalidBase64CharactersDefect", "InvalidBase64PaddingDefect"]),
        (b"QUJDR", ["InvalidBase64LengthDefect"]),
        (b"QU==JDREVG", ["InvalidBase64CharactersDefect"]),  # padding ends the data
    ],
)
def test_each_base64_fallback_is_taken_as_decode_b_takes_it(
    payload: bytes, defects: list[str]
) -> None:
    assert whole(payload, "base64")[1] == defects
    check_lazy(payload, "base64", [3, 5], 2)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
@pytest.mark.parametrize(
    "payload",
    [
        b"ab=\rcd=3Def gh=\r\nxyz=",  # "=\r" skips to the line's end, across pieces
        b"long line =3D=C3=A9 ==41 =4 end" * 3,  # no line break: cut between escapes
        b"soft=\r\nbreak=\nand =\r\r\n",
    ],
)
def test_quoted_printable_lines_are_cut_between_escapes(payload: bytes, chunk: int) -> None:
    check_lazy(payload, "quoted-printable", [], chunk)


def squeeze_and_clip(
    data: bytes | Iterable[bytes], charset: str | None, limit: int
) -> tuple[bytes, int]:
    """squeeze_clip_count without the count (what these tests compare)."""
    clipped, size, _ = squeeze_clip_count(data, charset, limit)
    return clipped, size


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"bc", b" ", b"\t", b"\r\n", b"\n", b"\x0b", b"\x00"]), max_size=60
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
    limit=st.integers(min_value=0, max_value=40),
    charset=st.sampled_from([None, "utf-8", "utf-16-le"]),
)
def test_squeeze_and_clip_in_chunks_is_the_whole_squeeze(
    data: bytes, cuts: list[int], limit: int, charset: str | None
) -> None:
    squeezed = squeeze_bytes(data, charset)
    expected = (head_and_tail_bytes(squeezed, limit), len(squeezed))
    assert squeeze_and_clip(data, charset, limit) == expected
    chunks = [bytes(piece) for piece in pieces_of(data, cuts)]
    assert squeeze_and_clip(iter(chunks), charset, limit) == expected


BLANKS_AND_TEXT = st.lists(
    st.sampled_from(["a", "b c", " ", "\t", "\r", "\n", "\r\n", "\x0b", "\x0c"]), max_size=40
).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=BLANKS_AND_TEXT)
def test_squeeze_is_the_two_substitutions(text: str) -> None:
    # squeeze finds runs of blank lines from the line breaks in them, for speed.
    lines = re.compile(r"[ \t\f\v]*(?:\r?\n[ \t\f\v]*){2,}")
    expected = re.sub(r"[ \t\f\v]{2,}", " ", lines.sub("\n\n", text))
    assert squeeze(text) == expected
    assert squeeze_bytes(text.encode(), None) == expected.encode()


def test_a_blank_run_longer_than_a_chunk_is_squeezed_whole() -> None:
    data = b"start" + b" \r\n" * 1_000 + b"end" + b"\n\n" * 10
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert squeeze_and_clip(iter(chunks), None, 1_000) == (b"start\n\nend\n\n", 12)


@pytest.mark.parametrize(
    ("payload", "charset"),
    [
        (b" \r\n\t\x0b\x1c \r\n", None),  # \x1c is whitespace to str.isspace, not to bytes
        (b" \r\n text \r\n", None),
        (b"\xa0 \xa0\r\n", "iso-8859-1"),  # no-break spaces: blank as text
        (b"\xc2\xa0 \r\n", "utf-8"),
        (b"\xa0\r\n", "no-such-charset"),
        (b"\x20\x00\x0a\x00", "utf-16-le"),
    ],
)
def test_text_is_blank_as_the_payload_text_is(payload: bytes, charset: str | None) -> None:
    part = part_with("8bit")
    if charset:
        part["Content-Type"] = f"text/plain; charset={charset}"
    part.set_payload(payload.decode("ascii", "surrogateescape"))
    expected = part.get_payload()
    assert isinstance(expected, str)
    old_chunk = body_stream.CHUNK
    body_stream.CHUNK = 1
    try:
        assert text_is_blank(pieces_of(payload, [1, 3]), part) == expected.isspace()
    finally:
        body_stream.CHUNK = old_chunk
