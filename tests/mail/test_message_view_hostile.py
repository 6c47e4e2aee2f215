"""parse_message never raises: random bytes and mutations of hand-written messages."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milter.mail.view import MessageView, ViewLimits, parse_message

# Small PDF budget: mutated PDFs must not make the suite slow.
LIMITS = ViewLimits(pdf_max_seconds=0.2, pdf_max_pages=2)
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n"
    b"4 0 obj\n<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 712 Td (Convocation) Tj ET\n"
    b"endstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)

SEEDS = [
    # Plain, non-MIME, with encoded headers and addresses of every shape.
    b"From: =?utf-8?q?Police_F=C3=A9d=C3=A9rale?= <agent@police.example>\n"
    b"Reply-To: pay@collect.example, Other <o@x.example>\n"
    b"To: undisclosed-recipients:;\n"
    b"Subject: =?utf-8?b?Q29udm9jYXRpb24=?= =?iso-8859-1?q?caf=E9?=\n"
    b"\n"
    b"I hacked your device. Pay 1.300 EUR to https://pay.example/x within 48 hours.\n",
    # Nested multiparts with HTML, a PDF, a forwarded message and odd charsets.
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=x-unknown\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Pay =E2=82=AC 300=\r\n now\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=windows-1252\r\n"
    b"\r\n"
    b'<p>Pay <a href="https://pay.example">\x80 300</a></p>'
    b'<div style="display:none">hidden</div>\r\n'
    b"--inner--\r\n"
    b"--outer\r\n"
    b'Content-Type: application/pdf; name="=?utf-8?q?convocation_f=C3=A9d.pdf?="\r\n'
    b"Content-Disposition: attachment; filename*=utf-8''conv%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(_PDF).replace(b"\n", b"\r\n") + b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"Content-Type: text/plain; charset=iso-2022-jp\r\n"
    b"\r\n"
    b"\x1b$B$3$s\x1b(B\r\n"
    b"--outer--\r\n",
    # 8-bit headers, a multipart with no boundary, base64 garbage.
    b"Subject: caf\xc3\xa9 \xe9\n"
    b"From: J\xe9r\xf4me <j@example.fr>\n"
    b"Content-Type: multipart/mixed\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"SSBoYWNrZWQg!!!eW91ciBk\n*ZXZpY2U=\n",
]

BOUNDARY_LINES = [b"--outer", b"--outer--", b"--inner", b"--inner--", b"--", b"--x--"]
HEADER_LINES = [
    b"Content-Type: multipart/mixed; boundary=outer",
    b"Content-Type: message/rfc822",
    b"Content-Transfer-Encoding: base64",
    b"Content-Type: text/html; charset=utf-7",
    b"Content-Disposition: attachment; filename*0*=utf-8''a%; filename*1=\"b",
    b"Subject: =?utf-8?b?=?=",
    b"From: <<@@>>",
    b"",
]


def _check(raw: bytes) -> None:
    view = parse_message(raw, limits=LIMITS)
    assert isinstance(view, MessageView)
    assert all(isinstance(part, str) for part in view.text_parts)
    assert all(isinstance(url, str) for url in view.urls)
    assert view.from_address == view.from_address.lower()


@SETTINGS
@given(st.binary(max_size=4_000))
def test_random_bytes(raw: bytes) -> None:
    _check(raw)


@SETTINGS
@given(st.sampled_from(SEEDS), st.integers(min_value=0), st.data())
def test_truncated(seed: bytes, cut: int, data: st.DataObject) -> None:
    _check(seed[: cut % (len(seed) + 1)])


@SETTINGS
@given(st.sampled_from(SEEDS), st.data())
def test_flipped_bytes(seed: bytes, data: st.DataObject) -> None:
    raw = bytearray(seed)
    for _ in range(data.draw(st.integers(min_value=1, max_value=30))):
        where = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[where] = data.draw(st.integers(min_value=0, max_value=255))
    _check(bytes(raw))


@SETTINGS
@given(st.sampled_from(SEEDS), st.data())
def test_line_edits(seed: bytes, data: st.DataObject) -> None:
    lines = seed.split(b"\n")
    for _ in range(data.draw(st.integers(min_value=1, max_value=12))):
        if not lines:
            break
        where = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = data.draw(st.sampled_from(["duplicate", "delete", "boundary", "header"]))
        if action == "duplicate":
            lines.insert(where, lines[where])
        elif action == "delete":
            del lines[where]
        elif action == "boundary":
            lines.insert(where, data.draw(st.sampled_from(BOUNDARY_LINES)))
        else:
            lines.insert(where, data.draw(st.sampled_from(HEADER_LINES)))
    _check(b"\n".join(lines))


@SETTINGS
@given(st.lists(st.sampled_from(BOUNDARY_LINES + HEADER_LINES + [b"text", b"\r"]), max_size=60))
def test_structure_soup(lines: list[bytes]) -> None:
    _check(b"\n".join(lines))
