"""The authenticator reads the header fields of the scanner's one parse of a message
(MessageView.raw_headers): for every test message and every hostile shape below, they
are the fields its own compat32 parse of the header block finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from milter.auth.authenticator import _Headers, _headers
from milter.mail.view import parse_message

MESSAGES = sorted((Path(__file__).resolve().parents[1] / "messages").rglob("*.eml"))
SHAPES = {
    "folded": (
        b"Received: from a (a [192.0.2.1])\r\n\tby mx; date\r\nFrom: A <a@x.example>\r\n\r\nb\r\n"
    ),
    "two-from": b"From: a@x.example\r\nFrom: b@y.example\r\nSubject: s\r\n\r\nbody\r\n",
    "encoded-name": b"From: =?utf-8?q?a=40evil.example?= <a@real.example>\r\n\r\nb\r\n",
    "8bit": b"From: J\xc3\xb6rg <j@x.example>\r\nReturn-Path: <r@x.example>\r\n\r\nb\r\n",
    "bare-lf": b"Received: from b\n\tby mx\nFrom: b@x.example\n\nbody\n",
    "no-body": b"From: c@x.example\r\nReceived: from c by mx\r\n",
    "body-line-first": b"From: d@x.example\r\nthis is no header\r\nReceived: x\r\n\r\nb\r\n",
    "multipart": (
        b'From: e@x.example\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nFrom: inner@evil.example\r\n\r\ninner\r\n--b--\r\n"
    ),
}


def _same(raw: bytes) -> None:
    view = parse_message(raw)
    assert view.raw_headers is not None
    ours, theirs = _Headers(view.raw_headers), _headers(raw)
    for name in ("From", "Return-Path", "Received", "Sender"):
        assert ours.get_all(name) == theirs.get_all(name), name
        assert ours.get(name) == theirs.get(name), name


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_hostile_shapes_give_the_same_fields(name: str) -> None:
    _same(SHAPES[name])


def test_every_test_message_gives_the_same_fields() -> None:
    assert len(MESSAGES) > 20
    for path in MESSAGES:
        _same(path.read_bytes())
