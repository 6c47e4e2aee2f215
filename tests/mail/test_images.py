"""Image attachments decoded within limits (milter/mail/images.py): hostile images cost a
header read and give a note, never an exception."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from milter.mail.images import ImageLimits, prepare_image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height and holds one empty data chunk: a pixel bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_a_scan_size_jpeg_is_downscaled_to_greyscale() -> None:
    data = encoded(Image.new("RGB", (2481, 3508), "white"), "JPEG", quality=80)
    prepared = prepare_image(data)
    assert prepared.ready and prepared.note == ""
    assert prepared.image is not None and prepared.image.mode == "L"
    assert max(prepared.image.size) == 1400 and prepared.image.size[0] in (989, 990)
    assert (prepared.format, prepared.width, prepared.height) == ("JPEG", 2481, 3508)


def test_a_transparent_png_becomes_black_on_white() -> None:
    page = Image.new("RGBA", (600, 400), (0, 0, 0, 0))
    page.paste((0, 0, 0, 255), (100, 100, 200, 200))
    prepared = prepare_image(encoded(page, "PNG"))
    assert prepared.image is not None
    assert prepared.image.getpixel((10, 10)) == 255 and prepared.image.getpixel((150, 150)) == 0


def test_pixel_bombs_are_refused_before_decoding() -> None:
    # Below Pillow's own limit, above ours: refused by the declared size.
    prepared = prepare_image(png_header_only(8000, 8000))
    assert not prepared.ready and prepared.note == "pixel bomb: 8000x8000 px declared"
    # Far above Pillow's limit: its DecompressionBombError is the same refusal.
    assert prepare_image(png_header_only(60000, 60000)).note.startswith("pixel bomb")
    assert prepare_image(png_header_only(3000, 3000), ImageLimits(max_pixels=10**6)).note == (
        "pixel bomb: 3000x3000 px declared"
    )


def test_a_truncated_jpeg_is_noted() -> None:
    noise = Image.effect_noise((1200, 1600), 60).convert("RGB")
    data = encoded(noise, "JPEG", quality=90)
    prepared = prepare_image(data[: len(data) // 2])
    assert not prepared.ready and prepared.note == "truncated: JPEG could not be decoded"
    assert (prepared.width, prepared.height) == (1200, 1600)


def test_logos_and_tracking_pixels_are_skipped() -> None:
    pixel = prepare_image(encoded(Image.new("RGB", (1, 1)), "GIF"))
    assert pixel.note == "skipped: 1x1 px, a logo or tracking pixel"
    banner = prepare_image(encoded(Image.new("RGB", (600, 60)), "PNG"))
    assert banner.note.startswith("skipped: 600x60 px")
    assert prepare_image(encoded(Image.new("RGB", (300, 300)), "PNG")).ready


def test_what_is_not_an_image_is_noted() -> None:
    assert prepare_image(b"%PDF-1.7 not an image").note == "not an image this filter reads"
    assert prepare_image(b"").note == "not an image this filter reads"
    assert prepare_image(b"x" * 30, ImageLimits(max_bytes=10)).note == "too big: 30 bytes"
