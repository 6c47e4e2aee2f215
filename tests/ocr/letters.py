"""Letters rendered for the OCR tests: a page of text at scan size, saved as JPEG or PNG.

Rendered with Pillow and a TrueType font from Debian (fonts-dejavu-core, installed by
run-tests), at the size real image letters come in (A4 at 200 dpi, 1,654 x 2,339 px), so
the reader's downscale to 1,400 px is exercised too.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

GERMAN = [
    "BUNDESKRIMINALAMT",
    "Abteilung für Jugendschutz",
    "Vorladung",
    "Gegen Sie wird wegen Kinderpornografie ermittelt.",
    "Antworten Sie innerhalb von 72 Stunden.",
]
FRENCH = [
    "POLICE NATIONALE",
    "Convocation",
    "Vous êtes convoqué pour des faits de pédopornographie.",
    "Veuillez répondre dans les plus brefs délais.",
]


def font(size: int) -> ImageFont.FreeTypeFont:
    if not FONT.exists():
        pytest.skip(f"{FONT} missing: apt-get install fonts-dejavu-core (run-tests does)")
    return ImageFont.truetype(str(FONT), size)


def letter(lines: list[str], fmt: str = "JPEG", size: tuple[int, int] = (1654, 2339)) -> bytes:
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    draw.ellipse((120, 100, 320, 300), outline="navy", width=12)  # a logo-like stamp
    text_font = font(size[0] // 36)
    y = 400
    for line in lines:
        draw.text((140, y), line, fill="black", font=text_font)
        y += size[0] // 15
    out = io.BytesIO()
    page.save(out, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return out.getvalue()


def qr_code(text: str, scale: int = 4) -> Image.Image:
    """A QR code of ``text`` drawn by zxing-cpp's own writer, as a greyscale image."""
    import zxingcpp

    drawn = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=scale)
    height, width = drawn.shape[:2]
    return Image.frombytes("L", (width, height), bytes(memoryview(drawn)))


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()
