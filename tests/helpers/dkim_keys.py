"""RSA keys and DKIM-signed messages for the authentication tests.

Keys are made with ``cryptography`` once per test session (functools.cache) and sign with
dkimpy itself, so the tests verify real signatures. 1024 bits keeps them fast; one
2048-bit key has a public key too long for one TXT string (255 bytes), so its record is
split over several quoted strings, as real DNS publishes it.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes  # PKCS#1 PEM, what dkim.sign takes
    public_b64: str  # DER SubjectPublicKeyInfo in base64, the p= of the key record
    bits: int


@functools.cache
def key(name: str = "main", bits: int = 1024) -> KeyPair:
    """A key pair, the same for a name and size during the whole session."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(pem, base64.b64encode(der).decode("ascii"), bits)


def key_record(
    selector: str, domain: str, pair: KeyPair | None, extra: str = "", chunk: int = 200
) -> str:
    """The zone line publishing ``pair`` at <selector>._domainkey.<domain>.

    ``pair=None`` publishes a revoked key (empty p=). The text is split into quoted
    strings of at most ``chunk`` characters (a TXT string holds 255 bytes at most).
    """
    text = f"v=DKIM1; k=rsa; {extra}p={pair.public_b64 if pair else ''}"
    strings = " ".join(f'"{text[i : i + chunk]}"' for i in range(0, len(text), chunk))
    return f"{selector}._domainkey.{domain}. 300 IN TXT {strings}"


def sign(
    message: bytes,
    domain: str,
    selector: str = "sel",
    pair: KeyPair | None = None,
    *,
    canonicalize: tuple[bytes, bytes] = (b"relaxed", b"simple"),
    headers: list[bytes] | None = None,
    **kwargs: object,
) -> bytes:
    """``message`` with a DKIM-Signature by ``domain`` added on top (rsa-sha256)."""
    pair = pair or key()
    signature = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        pair.private_pem,
        canonicalize=canonicalize,
        include_headers=headers or [b"from", b"to", b"subject", b"date", b"message-id"],
        **kwargs,
    )
    return signature + message


def message(
    from_addr: str = "Commissioner <info@example.org>",
    subject: str = "Convocation",
    body: str = "Dear citizen,\r\nPlease read the attached letter.\r\n",
) -> bytes:
    """A small plain-text message with CRLF line ends."""
    return (
        f"From: {from_addr}\r\n"
        "To: victim@example.net\r\n"
        f"Subject: {subject}\r\n"
        "Date: Fri, 27 Nov 2026 10:00:00 +0100\r\n"
        "Message-ID: <1@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}"
    ).encode()
