"""gzip and tar attachments (milter/mail/tarballs.py): read like ZIP members within the
same limits; a gzip bomb is refused after inflating no more than the limits allow."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from email.message import EmailMessage

from milter.mail.envelope import Envelope
from milter.mail.view import ViewLimits, parse_message
from milter.scan.rules.examples import make_pdf


def mail(name: str, data: bytes, kind: str = "application/gzip") -> bytes:
    message = EmailMessage()
    message["From"] = "a@example.org"
    message["Subject"] = "files"
    message.set_content("see attachment")
    maintype, _, subtype = kind.partition("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def tarball(files: dict[str, bytes], compress: bool = True) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if compress else "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_gzipped_pdf_is_read() -> None:
    data = gzip.compress(make_pdf("Convocation police judiciaire"))
    view = parse_message(mail("Convocation.pdf.gz", data), Envelope())
    names = [a.filename for a in view.attachments]
    assert "Convocation.pdf" in names
    (pdf,) = [a for a in view.attachments if a.filename == "Convocation.pdf"]
    assert "Convocation police judiciaire" in pdf.text
    assert view.structure.partial == ()


def test_tar_members_are_read_and_images_kept() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(200)
    data = tarball({"akte/brief.txt": b"Vorladung wegen Betrug", "akte/scan.jpg": jpeg})
    for name, packed in (("akte.tgz", data), ("akte.tar", tarball({"a.txt": b"x"}, False))):
        view = parse_message(mail(name, packed), Envelope())
        assert view.structure.partial == (), name
    view = parse_message(mail("akte.tgz", data), Envelope())
    texts = {a.filename: a.text for a in view.attachments}
    assert texts["akte.tgz/akte/brief.txt"] == "Vorladung wegen Betrug"
    assert [i.name for i in view.images] == ["akte.tgz/akte/scan.jpg"]


def test_a_gzip_bomb_is_refused_quickly() -> None:
    bomb = gzip.compress(bytes(200_000_000), compresslevel=9)  # 200 MB in ~200 KB
    started = time.monotonic()
    view = parse_message(mail("letter.pdf.gz", bomb), Envelope())
    assert time.monotonic() - started < 2
    (note,) = view.structure.partial
    assert "gzip bomb?" in note and "letter.pdf.gz" in note


def test_the_member_count_and_the_shared_budget_hold() -> None:
    many = tarball({f"f{n}.txt": b"hello" for n in range(150)})
    view = parse_message(mail("many.tgz", many), Envelope())
    assert sum(a.filename.startswith("many.tgz/") for a in view.attachments) == 100
    assert any("only the first 100 read" in p for p in view.structure.partial)
    # Two archives share one budget of unpacked bytes.
    limits = ViewLimits(archive_max_bytes=150_000)
    big = gzip.compress(b"a" * 100_000)
    message = EmailMessage()
    message["From"] = "a@example.org"
    message.set_content("two")
    for name in ("one.txt.gz", "two.txt.gz"):
        message.add_attachment(big, maintype="application", subtype="gzip", filename=name)
    view = parse_message(message.as_bytes(), Envelope(), limits)
    assert [a.filename for a in view.attachments if a.filename.endswith(".txt")] == ["one.txt"]
    assert any("two.txt.gz" in p and "bomb" in p for p in view.structure.partial)


def test_damaged_and_nested_archives_are_notes() -> None:
    data = tarball({"a.txt": b"x" * 5000})
    view = parse_message(mail("cut.tgz", data[: len(data) // 2]), Envelope())
    assert any("cut.tgz" in p and "damaged" in p for p in view.structure.partial)
    nested = tarball({"inner.tgz": tarball({"b.txt": b"y"})})
    view = parse_message(mail("outer.tgz", nested), Envelope())
    assert any("an archive inside a tarball" in p for p in view.structure.partial)
