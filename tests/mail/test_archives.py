"""ZIP attachments opened within limits (milter/mail/archives.py), from real ZIPs built
here: scams found inside, bombs refused from the central directory and while reading,
member and depth limits, ZipCrypto opened with the password written in the message."""

from __future__ import annotations

import io
import random
import struct
import time
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest
import pyzipper

import milter.config
from milter.mail.archives import ArchiveBudget, open_zip, passwords_in
from milter.mail.view import ViewLimits, parse_message
from milter.scan.rules.examples import make_pdf
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action

MESSAGES = Path(__file__).resolve().parents[1] / "messages"
HELD = (Action.QUARANTINE, Action.REJECT)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([milter.config.shipped_rules_dir()])


def scam_text() -> str:
    """The body of a real sextortion test message."""
    raw = (MESSAGES / "scam" / "sextortion_en_classic.eml").read_bytes()
    return raw.split(b"\n\n", 1)[1].decode("utf-8")


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def mail(body: str, attachment: bytes, filename: str = "documents.zip") -> bytes:
    message = EmailMessage()
    message["From"] = "Support <support@mailer.example>"
    message["To"] = "daniel@example.com"
    message["Subject"] = "Your documents"
    message.set_content(body)
    message.add_attachment(attachment, maintype="application", subtype="zip", filename=filename)
    return message.as_bytes()


# -- ZipCrypto, written here: the stdlib reads it but cannot write it (APPNOTE 6.1) --


class _ZipCrypto:
    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for byte in password:
            self._update(byte)

    @staticmethod
    def _crc(crc: int, byte: int) -> int:
        return zlib.crc32(bytes([byte]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def _update(self, byte: int) -> None:
        k0, k1, k2 = self.keys
        k0 = self._crc(k0, byte)
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = self._crc(k2, k1 >> 24)
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            temp = (self.keys[2] | 2) & 0xFFFF
            out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
            self._update(byte)
        return bytes(out)


def encrypted_zip(name: str, data: bytes, password: bytes) -> bytes:
    """A one-member ZIP, deflated and ZipCrypto-encrypted, built byte by byte."""
    crc = zlib.crc32(data)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = packer.compress(data) + packer.flush()
    header = bytes(random.Random(1).randrange(256) for _ in range(11)) + bytes([crc >> 24])
    payload = _ZipCrypto(password).encrypt(header + deflated)
    raw_name = name.encode()
    fields = (1, 8, 0, 0x21, crc, len(payload), len(data), len(raw_name), 0)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, *fields) + raw_name + payload
    central = (
        struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, *fields, 0, 0, 0, 0, 0) + raw_name
    )
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def lying_zip(real_size: int, claimed_size: int) -> bytes:
    """A ZIP of ``real_size`` zero bytes whose central directory claims ``claimed_size``."""
    data = make_zip({"notes.txt": bytes(real_size)})
    at = data.rindex(b"PK\x01\x02")
    return data[: at + 24] + struct.pack("<I", claimed_size) + data[at + 28 :]


# -- the scanner sees inside --


def test_scam_text_inside_a_zip_is_found(scanner: Scanner) -> None:
    raw = mail("Please find the details attached.", make_zip({"letter.txt": scam_text().encode()}))
    plain = mail("Please find the details attached.", make_zip({"photo.jpg": b"\xff\xd8" * 50}))
    verdict = scanner.scan(raw)
    assert verdict.action in HELD, verdict
    assert not verdict.partial
    assert scanner.scan(plain).action not in HELD
    view = parse_message(raw)
    assert "documents.zip/letter.txt" in [a.filename for a in view.attachments]


def test_pdf_and_text_members_are_read_like_attachments() -> None:
    inner = make_zip({"readme.txt": b"inner words"})
    archive = make_zip({"summons.pdf": make_pdf("Convocation police"), "inner.zip": inner})
    view = parse_message(mail("see attached", archive))
    texts = {a.filename: a.text for a in view.attachments}
    assert texts["documents.zip/summons.pdf"] == "Convocation police"
    assert texts["documents.zip/inner.zip/readme.txt"] == "inner words"
    assert not view.structure.partial


def test_office_documents_are_not_opened() -> None:
    docx = make_zip({"word/document.xml": b"<w:t>hello</w:t>"})
    message = EmailMessage()
    message.set_content("report")
    message.add_attachment(docx, maintype="application", subtype="msword", filename="r.docx")
    view = parse_message(message.as_bytes())
    assert [a.filename for a in view.attachments] == ["r.docx"]


# -- bombs --


def test_honest_bomb_is_refused_from_the_directory_quickly(scanner: Scanner) -> None:
    bomb = make_zip({"big.txt": bytes(200_000_000)})
    assert len(bomb) < 300_000
    started = time.monotonic()
    verdict = scanner.scan(mail("hello", bomb))
    assert time.monotonic() - started < 1.0
    assert verdict.partial and "zip bomb" in " ".join(verdict.partial)
    assert verdict.action != Action.ACCEPT


def test_ratio_limit_refuses_a_small_but_dense_member() -> None:
    dense = make_zip({"a.txt": bytes(5_000_000)})  # 5 MB, within the size limit
    view = parse_message(mail("hello", dense))
    assert any("compressed" in note for note in view.structure.partial)
    assert "documents.zip/a.txt" not in [a.filename for a in view.attachments]


def test_header_that_lies_about_its_size_gets_no_further() -> None:
    liar = lying_zip(real_size=50_000_000, claimed_size=1_000)
    limits = ViewLimits()
    started = time.monotonic()
    members, notes = open_zip(liar, "liar.zip", limits, ArchiveBudget())
    assert time.monotonic() - started < 1.0
    assert members == [] and "header lies" in notes[0], notes
    view = parse_message(mail("hello", liar))
    assert view.structure.partial


def test_members_past_the_limit_are_noted() -> None:
    archive = make_zip({f"f{i}.txt": f"file {i}".encode() for i in range(150)})
    view = parse_message(mail("hello", archive))
    names = [a.filename for a in view.attachments if "/" in a.filename]
    assert len(names) == 100
    assert any("150 members" in note for note in view.structure.partial)


def test_nesting_past_the_depth_is_not_read() -> None:
    deepest = make_zip({"scam.txt": b"deep"})
    two = make_zip({"two.zip": deepest})
    one = make_zip({"one.zip": two})
    view = parse_message(mail("hello", one))
    assert not any(a.text == "deep" for a in view.attachments)
    assert any("nested deeper than 2" in note for note in view.structure.partial)
    shallower = parse_message(mail("hello", two))
    assert any(a.text == "deep" for a in shallower.attachments)


def test_total_budget_is_shared_by_the_archives_of_a_message() -> None:
    limits = ViewLimits(archive_max_bytes=1_000)
    budget = ArchiveBudget()
    one = make_zip({"a.txt": b"x" * 600}, zipfile.ZIP_STORED)
    assert open_zip(one, "1.zip", limits, budget)[0]
    members, notes = open_zip(one, "2.zip", limits, budget)
    assert members == [] and "over the limit" in notes[0]


# -- passwords --


@pytest.mark.parametrize(
    "body",
    [
        "The password: 4711",
        "Passwort: 4711.",
        "mot de passe : 4711",
        "wachtwoord: 4711",
        "senha: 4711",
        "contraseña: 4711",
    ],
)
def test_passwords_are_found_in_the_text(body: str) -> None:
    assert b"4711" in passwords_in("Open the attached file.\n" + body)


def test_zipcrypto_opened_with_the_password_from_the_body(scanner: Scanner) -> None:
    archive = encrypted_zip("letter.txt", scam_text().encode(), b"4711")
    with zipfile.ZipFile(io.BytesIO(archive)) as check:  # the stdlib agrees it is ZipCrypto
        assert check.read("letter.txt", pwd=b"4711").startswith(b"Hello")
    verdict = scanner.scan(mail("Your documents. Password: 4711", archive))
    assert verdict.action in HELD and not verdict.partial, verdict
    locked = scanner.scan(mail("Your documents.", archive))
    assert any("encrypted archive not read" in note for note in locked.partial)
    assert locked.action != Action.ACCEPT
    wrong = parse_message(mail("Your documents. Password: 1234", archive))
    assert any("encrypted archive not read" in note for note in wrong.structure.partial)


def test_decrypting_is_bounded_per_message() -> None:
    archive = encrypted_zip("letter.txt", random.Random(3).randbytes(5_000), b"4711")
    budget = ArchiveBudget(encrypted_left=1_000)
    members, notes = open_zip(archive, "e.zip", ViewLimits(), budget, "password: 4711")
    assert members == [] and "encrypted archive not read" in notes[0]


def aes_zip(members: dict[str, bytes], password: bytes) -> bytes:
    """A WinZip AES-256 archive, as 7-Zip writes one when asked for AES."""
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password)
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_aes_opened_with_the_password_from_the_body(scanner: Scanner) -> None:
    archive = aes_zip({"letter.txt": scam_text().encode()}, b"Conv-2026")
    with zipfile.ZipFile(io.BytesIO(archive)) as check:  # method 99: the stdlib cannot
        assert check.infolist()[0].compress_type == 99
        with pytest.raises(NotImplementedError):
            check.read("letter.txt", pwd=b"Conv-2026")
    verdict = scanner.scan(mail("Ihre Vorladung. Passwort: Conv-2026", archive))
    assert verdict.action in HELD and not verdict.partial, verdict
    locked = scanner.scan(mail("Ihre Vorladung.", archive))
    assert any("no password in the message opens" in note for note in locked.partial)
    assert locked.action != Action.ACCEPT
    wrong = parse_message(mail("Ihre Vorladung. Passwort: 1234", archive))
    assert any("encrypted archive not read" in note for note in wrong.structure.partial)


def test_an_aes_bomb_is_refused_before_decrypting() -> None:
    archive = aes_zip({"blank.txt": b"\0" * 20_000_000}, b"4711")
    start = time.perf_counter()
    members, notes = open_zip(archive, "b.zip", ViewLimits(), ArchiveBudget(), "password: 4711")
    assert members == [] and "zip bomb?" in notes[0], notes
    assert time.perf_counter() - start < 0.5


def test_a_damaged_aes_member_is_a_note() -> None:
    archive = bytearray(aes_zip({"letter.txt": b"hello " * 500}, b"4711"))
    whole, _ = open_zip(bytes(archive), "d.zip", ViewLimits(), ArchiveBudget(), "password: 4711")
    assert [name for name, _ in whole] == ["d.zip/letter.txt"]
    # Inside the encrypted data, past the salt and the password check: the right
    # password is accepted, then the authentication code does not match.
    name_length, extra_length = struct.unpack("<HH", archive[26:30])
    data_start = 30 + name_length + extra_length + 16 + 2
    archive[data_start + 5] ^= 0xFF
    members, notes = open_zip(
        bytes(archive), "d.zip", ViewLimits(), ArchiveBudget(), "password: 4711"
    )
    assert members == []
    assert notes and "encrypted archive not read" in notes[0], notes
