"""The message view: one parse of a raw message into what rules look at.

Every message here is hand-written for the test. Each case names the raw message, the
fields it is about, and the defects the view must report.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

import pytest

from milter.mail import view as message_view
from milter.mail.envelope import Envelope
from milter.mail.html import HtmlText
from milter.mail.view import (
    Attachment,
    MessageView,
    MimeHeaderCache,
    ViewLimits,
    decode_encoded_words,
    parse_message,
)
from milter.scan.rules.examples import make_pdf

PDF = make_pdf("Convocation police federale")
PDF_B64 = base64.encodebytes(PDF)


@dataclass(frozen=True)
class Case:
    id: str
    raw: bytes
    expect: dict[str, Any]
    defects: tuple[str, ...] = ()  # each must be a substring of some reported defect
    limits: ViewLimits = field(default_factory=ViewLimits)


def attachments(view: MessageView) -> list[tuple[str, str, int, str]]:
    return [(a.filename, a.content_type, a.size, a.text) for a in view.attachments]


CASES = [
    # --- shapes of messages ---------------------------------------------------------
    Case(
        "plain-rfc822-not-mime",
        b"From: Police <Agent@Police.example>\n"
        b"To: you@example.org\n"
        b"Subject: Convocation\n"
        b"\n"
        b"You are summoned. See https://police.example/case?id=1.\n",
        {
            "subject": "Convocation",
            "from_name": "Police",
            "from_address": "agent@police.example",
            "from_domain": "police.example",
            "to": ("you@example.org",),
            "text_parts": ("You are summoned. See https://police.example/case?id=1.\n",),
            "urls": ("https://police.example/case?id=1",),
            "attachments": [],
        },
    ),
    Case(
        "crlf-line-endings",
        b"Subject: crlf\r\nFrom: a@b.example\r\n\r\nline one\r\nline two\r\n",
        {"subject": "crlf", "from_address": "a@b.example"},
    ),
    Case(
        "only-headers",
        b"From: a@b.example\nSubject: nothing else\n",
        {"subject": "nothing else", "text_parts": (), "html_parts": (), "attachments": []},
    ),
    Case(
        "empty-input",
        b"",
        {"subject": "", "headers": (), "text_parts": (), "from_address": ""},
    ),
    Case(
        "not-a-message",
        b"\x89PNG\r\n\x1a\n\x00\x00binary junk \xff\xfe and pay 0.1 BTC",
        {"headers": ()},
        defects=("MissingHeaderBodySeparatorDefect",),
    ),
    Case(
        "text-without-headers",
        b"Hello, I hacked your device.\nPay now.\n",
        {"text_parts": ("Hello, I hacked your device.\nPay now.\n",)},
    ),
    # --- headers ------------------------------------------------------------------------
    Case(
        "headers-decoded-unfolded-in-order",
        b"Received: from a\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\n"
        b"X-Mailer: Mailer =?utf-8?q?=C3=A9?=\n"
        b"Subject: =?utf-8?b?Q29udm9jYXRpb24gcG9saWNl?=\n"
        b"subject: second\n"
        b"\n"
        b"x\n",
        {
            "headers": (
                ("received", "from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000"),
                ("x-mailer", "Mailer é"),
                ("subject", "Convocation police"),
                ("subject", "second"),
            ),
            "subject": "Convocation police",
        },
    ),
    Case(
        "encoded-words-adjacent-and-split",
        b"Subject: =?utf-8?q?Police_f=C3?= =?utf-8?q?=A9d=C3=A9rale?=\n"
        b" - =?ISO-8859-1?Q?caf=E9?=\n\nx",
        {"subject": "Police fédérale - café"},
    ),
    Case(
        "encoded-words-broken",
        b"Subject: =?utf-8?b?w6k!!?= =?x-bogus?q?abc?= =?utf-8?q?=ZZ?= =?utf-8?b?\n\nx",
        {"subject": "éabc=ZZ =?utf-8?b?"},
    ),
    Case(
        "encoded-word-in-the-middle-of-a-word",
        b"From: David H=?ISO-8859-1?B?9g==?=hn <dh@example.at>\n\nx",
        {"from_name": "David Höhn", "from_address": "dh@example.at"},
    ),
    # --- addresses ------------------------------------------------------------------
    Case(
        "from-display-name-looks-like-an-address",
        b"From: police@justice.example <scam@Freemail.EXAMPLE>\n\nx",
        {
            "from_name": "police@justice.example",
            "from_address": "scam@freemail.example",
            "from_domain": "freemail.example",
        },
    ),
    Case(
        "from-encoded-display-name",
        b"From: =?utf-8?q?Police_F=C3=A9d=C3=A9rale?= <commissaire@gmail.example>\n\nx",
        {"from_name": "Police Fédérale", "from_address": "commissaire@gmail.example"},
    ),
    Case(
        "from-comment-form",
        b"From: scammer@example.org (Federal Police)\n\nx",
        {"from_name": "Federal Police", "from_address": "scammer@example.org"},
    ),
    Case(
        "from-name-only",
        b"From: Federal Police\n\nx",
        {"from_name": "Federal Police", "from_address": "", "from_domain": ""},
    ),
    Case(
        "from-missing",
        b"Subject: no sender\n\nx",
        {"from_name": "", "from_address": "", "from_domain": ""},
    ),
    Case(
        "reply-to-to-cc",
        b'From: "Justice, SPF" <a@b.example>\n'
        b"Reply-To: Payments <Pay@Collect.example>, other@x.example\n"
        b"To: One <one@example.org>, two@example.org\n"
        b"Cc: three@example.org, ONE@example.org\n"
        b"To: undisclosed-recipients:;\n"
        b"\n"
        b"x",
        {
            "from_name": "Justice, SPF",
            "reply_to": ("pay@collect.example", "other@x.example"),
            "to": ("one@example.org", "two@example.org", "three@example.org"),
        },
    ),
    # --- charsets and transfer encodings --------------------------------------------
    Case(
        "unknown-charset-utf8-bytes",
        b"Content-Type: text/plain; charset=x-unknown\n\nconvocation \xc3\xa9\n",
        {"text_parts": ("convocation é\n",)},
        defects=("unknown charset 'x-unknown'",),
    ),
    Case(
        "unknown-charset-latin1-bytes",
        b"Content-Type: text/plain; charset=x-unknown\n\n1.300 \x80 \xe9\n",
        {"text_parts": ("1.300 € é\n",)},
    ),
    Case(
        "windows-1252-quoted-printable",
        b"Content-Type: text/plain; charset=windows-1252\n"
        b"Content-Transfer-Encoding: quoted-printable\n"
        b"\n"
        b"Pay 1.300 =80 in bitcoin=\n within 48 hours\n",
        {"text_parts": ("Pay 1.300 € in bitcoin within 48 hours\n",)},
    ),
    Case(
        "utf-7",
        b"Content-Type: text/plain; charset=unicode-1-1-utf-7\n\nHi Mom -+Jjo--!\n",
        {"text_parts": ("Hi Mom -\u263a-!\n",)},
    ),
    Case(
        "iso-2022-jp",
        b"Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s$K$A$O\x1b(B\n",
        {"text_parts": ("こんにちは\n",)},
    ),
    Case(
        "ascii-declared-but-utf8",
        b"Content-Type: text/plain; charset=us-ascii\n\nd\xc3\xa9j\xc3\xa0\n",
        {"text_parts": ("déjà\n",)},
    ),
    Case(
        "charset-in-quotes-and-upper-case",
        b'Content-Type: text/plain; charset="ISO-8859-15"\n\n\xa4 100\n',
        {"text_parts": ("€ 100\n",)},
    ),
    Case(
        "base64-with-garbage",
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
        b"SSBoYWNrZWQg!!!eW91ciBk\n*ZXZpY2U=\n",
        {"text_parts": ("I hacked your device",)},
        defects=("InvalidBase64CharactersDefect",),
    ),
    # --- HTML ---------------------------------------------------------------------------
    Case(
        "alternative-text-and-html",
        b"Content-Type: multipart/alternative; boundary=alt\n"
        b"\n"
        b"--alt\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"\n"
        b"Pay at https://pay.example/now\n"
        b"--alt\n"
        b"Content-Type: text/html; charset=utf-8\n"
        b"\n"
        b'<p>Pay <a href="https://pay.example/now">here</a></p>'
        b'<div style="display:none">weather garden recipe</div>'
        b'<img src="https://img.example/logo.png">\n'
        b"--alt--\n",
        {
            "text_parts": ("Pay at https://pay.example/now",),
            "html_parts": (
                HtmlText(
                    visible="Pay here",
                    hidden="weather garden recipe",
                    urls=("https://pay.example/now", "https://img.example/logo.png"),
                ),
            ),
            "urls": ("https://pay.example/now", "https://img.example/logo.png"),
        },
    ),
    # --- attachments --------------------------------------------------------------------
    Case(
        "pdf-attachment",
        b"Content-Type: multipart/mixed; boundary=mix\n"
        b"\n"
        b"--mix\n"
        b"Content-Type: text/plain\n"
        b"\n"
        b"See the attached convocation.\n"
        b"--mix\n"
        b'Content-Type: application/pdf; name="convocation.pdf"\n'
        b'Content-Disposition: attachment; filename="convocation.pdf"\n'
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + PDF_B64 + b"--mix--\n",
        {
            "text_parts": ("See the attached convocation.",),
            "attachments": [
                (
                    "convocation.pdf",
                    "application/pdf",
                    len(PDF),
                    "Convocation police federale",
                )
            ],
        },
    ),
    Case(
        "pdf-as-octet-stream-with-rfc2231-name",
        b"Content-Type: multipart/mixed; boundary=mix\n"
        b"\n"
        b"--mix\n"
        b"Content-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename*=utf-8''Convocation%20f%C3%A9d%C3%A9rale\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + PDF_B64 + b"--mix--\n",
        {
            "attachments": [
                (
                    "Convocation fédérale",
                    "application/octet-stream",
                    len(PDF),
                    "Convocation police federale",
                )
            ]
        },
    ),
    Case(
        "rfc2047-filename",
        b"Content-Type: multipart/mixed; boundary=mix\n"
        b"\n"
        b"--mix\n"
        b'Content-Type: image/jpeg; name="=?utf-8?b?UG9saWNlIGbDqWTDqXJhbGUuanBn?="\n'
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
        b"/9j/4AAQ\n"
        b"--mix--\n",
        {"attachments": [("Police fédérale.jpg", "image/jpeg", 6, "")]},
    ),
    Case(
        "text-attachment-is-not-body",
        b"Content-Type: multipart/mixed; boundary=mix\n"
        b"\n"
        b"--mix\n"
        b"Content-Type: text/plain\n"
        b"\n"
        b"body\n"
        b"--mix\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b'Content-Disposition: attachment; filename="notice.txt"\n'
        b"\n"
        b"You watched illegal content.\n"
        b"--mix--\n",
        {
            "text_parts": ("body",),
            "attachments": [
                ("notice.txt", "text/plain", 28, "You watched illegal content."),
            ],
        },
    ),
    Case(
        "inline-image-without-name",
        b"Content-Type: multipart/related; boundary=rel\n"
        b"\n"
        b"--rel\n"
        b"Content-Type: text/html\n"
        b"\n"
        b'<img src="cid:x">\n'
        b"--rel\n"
        b"Content-Type: image/png\n"
        b"Content-Disposition: inline\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
        b"iVBORw0KGgo=\n"
        b"--rel--\n",
        {"attachments": [("", "image/png", 8, "")]},
    ),
    # --- nesting ------------------------------------------------------------------------
    Case(
        "message-rfc822-text-counts-as-body",
        b"Content-Type: multipart/mixed; boundary=outer\n"
        b"\n"
        b"--outer\n"
        b"Content-Type: text/plain\n"
        b"\n"
        b"Forwarded:\n"
        b"--outer\n"
        b"Content-Type: message/rfc822\n"
        b'Content-Disposition: attachment; filename="original.eml"\n'
        b"\n"
        b"From: inner@example.org\n"
        b"Subject: inner\n"
        b"\n"
        b"I recorded you through your webcam.\n"
        b"--outer--\n",
        {
            "text_parts": ("Forwarded:", "I recorded you through your webcam."),
            "attachments": [("original.eml", "message/rfc822", 35, "")],
            "subject": "",
        },
    ),
    Case(
        "message-rfc822-base64-encoded",
        b"Content-Type: message/rfc822\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + base64.encodebytes(b"Subject: inner\n\nPay the fine of 300 euro.\n") + b"\n",
        {"text_parts": ("Pay the fine of 300 euro.\n",)},
    ),
    Case(
        "multipart-without-boundary",
        b"Content-Type: multipart/mixed\n\nI hacked your device.\n",
        {"text_parts": ("I hacked your device.\n",)},
        defects=("NoBoundaryInMultipartDefect", "multipart/mixed without a usable boundary"),
    ),
    Case(
        "boundary-never-found",
        b"Content-Type: multipart/mixed; boundary=nothere\n\npreamble only text\n",
        {"text_parts": ("preamble only text\n",)},
        defects=("StartBoundaryNotFoundDefect",),
    ),
    Case(
        "nesting-over-max-depth",
        b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(6)
        )
        + b"Content-Type: text/plain\n\ndeep text\n",
        # Past the depth limit the parts are still read, flat (issue 10).
        {"text_parts": ("deep text",)},
        defects=("MIME nesting deeper than 3; the parts below read flat",),
        limits=ViewLimits(max_depth=3),
    ),
    Case(
        "deep-nesting-beyond-the-stdlib-parser",
        b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(3000)
        )
        + b"Content-Type: text/plain\n\ndeep text\n",
        {},
        defects=("could not be parsed (RecursionError)",),
    ),
    Case(
        "more-parts-than-max-parts",
        b"Content-Type: multipart/mixed; boundary=m\n\n"
        + b"".join(b"--m\nContent-Type: text/plain\n\npart %d\n" % i for i in range(10))
        + b"--m--\n",
        # The container and four parts in order; the last parts are read after them.
        {"text_parts": tuple(f"part {i}" for i in range(10))},
        defects=("more than 5 MIME parts",),
        limits=ViewLimits(max_parts=5),
    ),
    Case(
        "text-longer-than-max-text-chars",
        b"Content-Type: text/plain\n\n" + b"a" * 50 + b"b" * 50,
        # Its start and its end, five characters each.
        {"text_parts": ("aaaaa\nbbbbb",)},
        defects=("longer than 10 characters",),
        limits=ViewLimits(max_text_chars=10),
    ),
    Case(
        "pdf-time-budget-spent",
        b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" + PDF_B64,
        {"attachments": [("", "application/pdf", len(PDF), "")]},
        defects=("PDF time budget spent",),
        limits=ViewLimits(pdf_max_seconds=0),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_view(case: Case) -> None:
    view = parse_message(case.raw, limits=case.limits)
    assert isinstance(view, MessageView)
    for name, expected in case.expect.items():
        actual = attachments(view) if name == "attachments" else getattr(view, name)
        assert actual == expected, name
    for wanted in case.defects:
        assert any(wanted in defect for defect in view.defects), (wanted, view.defects)


def test_eight_bit_headers_utf8_and_latin1() -> None:
    view = parse_message(b"Subject: \xc3\xa9t\xc3\xa9\nX-Old: \xe9t\xe9\n\nx")
    assert view.subject == "été"
    assert view.header("x-old") == ("été",)


def test_header_lookup_is_case_insensitive() -> None:
    view = parse_message(b"X-Mailer: one\nx-mailer: two\nSubject: s\n\nx")
    assert view.header("X-MAILER") == ("one", "two")
    assert view.header("x-missing") == ()


def test_envelope_is_kept_and_defaults_to_unknown() -> None:
    envelope = Envelope(mail_from="a@b.example", rcpt_to=("c@d.example",))
    assert parse_message(b"Subject: x\n\ny", envelope).envelope == envelope
    assert parse_message(b"Subject: x\n\ny").envelope == Envelope()


def test_a_clean_message_has_no_defects() -> None:
    view = parse_message(
        b"From: a@b.example\nTo: c@d.example\nSubject: hello\n"
        b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nhello\n"
    )
    assert view.defects == ()


def test_view_values_are_frozen() -> None:
    view = parse_message(b"Subject: x\n\ny")
    with pytest.raises(AttributeError):
        view.subject = "z"  # type: ignore[misc]
    assert isinstance(Attachment("a", "b/c", 1, ""), Attachment)


@pytest.mark.parametrize("name", ["max_parts", "max_depth", "max_text_chars", "pdf_max_pages"])
def test_limits_refuse_negative_values(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ViewLimits(**{name: -1})


def test_decode_encoded_words_directly() -> None:
    assert decode_encoded_words("=?utf-8?q?a?=  =?utf-8?q?b?=") == "ab"
    assert decode_encoded_words("x =?utf-8?q?a?= y") == "x a y"
    assert decode_encoded_words("=?utf-8*en?q?hi?=") == "hi"
    assert decode_encoded_words("no words") == "no words"


def test_time_budget_stops_reading_later_parts() -> None:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(10))
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    full = parse_message(raw, Envelope(), ViewLimits())
    assert len(full.text_parts) == 10
    cut = parse_message(raw, Envelope(), ViewLimits(max_seconds=0))
    # The multipart container counts as the first part; nothing after the budget.
    assert cut.text_parts == ()
    assert any("parts after the first 1 not read" in d for d in cut.defects)


def test_a_deadline_before_the_time_budget_stops_reading_in_order() -> None:
    # The proxy's budget for the whole message may end before the scan's own limit.
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(40))
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    assert len(parse_message(raw, deadline=time.monotonic() + 60).text_parts) == 40
    cut = parse_message(raw, deadline=time.monotonic() - 1)
    assert any("parts after the first 1 not read" in d for d in cut.defects)
    # Read past the limit as any limit is: the last parts, not the ones in between.
    assert "part 39" in cut.text_parts[-1]
    assert not any("part 10\r" in text or text.strip() == "part 10" for text in cut.text_parts)
    assert cut.structure.partial


def test_mime_fields_are_shared_between_messages_and_nothing_else() -> None:
    shared = MimeHeaderCache()
    raw = b"Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    first, second = (
        BytesParser(policy=message_view._POLICY.for_message(shared)).parsebytes(raw)
        for _ in range(2)
    )
    assert first["content-type"] is second["content-type"]
    assert first["content-type"].params == {"charset": "utf-8"}
    assert first["subject"] is not second["subject"]
    for n in range(MimeHeaderCache.MAX_ENTRIES * 2):
        parse_message(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d--\r\n' % (n, n),
            mime_headers=shared,
        )
    assert len(shared._headers) <= MimeHeaderCache.MAX_ENTRIES
