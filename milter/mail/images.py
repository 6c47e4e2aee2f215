"""An image attachment made ready for OCR: decoded with Pillow within limits, or why not.

Pure (docs/architecture.md, "What may import what"): bytes in, a value out; the OCR
itself (threads, a native engine) lives in milter/ocr. Every limit is checked on what the
header declares, before any pixel is decoded, so a hostile image costs a header read:

- a pixel bomb (a few kilobytes declaring 30,000 x 30,000 px) is refused by our own
  limit, well below Pillow's Image.MAX_IMAGE_PIXELS, and Pillow's DecompressionBombError
  is caught as the same refusal;
- logos and tracking pixels (small in both sides or in area) are skipped: they carry no
  letter, and OCR reads them as noise (docs/ocr.md: "EURTPOL");
- a JPEG is decoded at reduced scale with ``draft("L", ...)`` (libjpeg's DCT scaling
  skips most of the work), then any image is scaled to about 1,400 px on the long side,
  in greyscale: the size at which real authority letters read well (docs/ocr.md, issue 12);
- a truncated image gives a note, never an exception: the rule "image not read" can act.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# The formats issue 12 names; anything else is not opened (Pillow knows dozens).
FORMATS = ("JPEG", "PNG", "GIF", "TIFF", "WEBP", "BMP")
_NAMES = (".jpg", ".jpeg", ".jpe", ".png", ".gif", ".tif", ".tiff", ".webp", ".bmp")
# The first bytes of each format: scams send letters as application/octet-stream too.
# (BMP's "BM" is too short to tell from other bytes: by type or name only.)
_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)
_MAGIC_TYPES = ("image/jpeg", "image/png", "image/gif", "image/gif", "image/tiff", "image/tiff")


def looks_like_image(content_type: str, filename: str, head: bytes) -> bool:
    """Whether a part is an image this filter reads, by its type, its name or its bytes."""
    if content_type.startswith("image/") or filename.lower().endswith(_NAMES):
        return True
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def image_type(head: bytes) -> str:
    """The media type the first bytes show ("image/jpeg"), or "image/unknown"."""
    for magic, kind in zip(_MAGIC, _MAGIC_TYPES, strict=True):
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "image/bmp" if head.startswith(b"BM") else "image/unknown"


@dataclass(frozen=True)
class ImagePart:
    """An image of the message to read: an attachment, an inline image, a ZIP member or
    a scanned PDF page. ``name`` is for evidence ("BKA025.jpg", "scan.pdf page 1"); a
    part that is not kept (``note`` says why) has no ``data``."""

    name: str
    data: bytes = b""
    note: str = ""


@dataclass(frozen=True)
class ImageText:
    """The text of one image (``note`` empty) or why there is none."""

    name: str
    digest: str
    text: str
    note: str = ""
    cached: bool = False
    seconds: float = 0.0
    recognized: bool = False  # the engine ran on it (not cached, not refused)
    codes: tuple[str, ...] = ()  # text of the QR codes and barcodes found in it


@dataclass(frozen=True)
class ImageLimits:
    """How far an image is decoded. Defaults fit real letters: 4,139 x 5,854 px is 24 Mpx."""

    max_bytes: int = 20_000_000
    max_pixels: int = 40_000_000
    min_side: int = 100
    min_pixels: int = 60_000
    # Below the letter size an image is still decoded for the codes it may hold (a QR
    # code alone is a small image), down to the smallest QR code (21 x 21 modules).
    code_min_side: int = 21
    target_side: int = 1400


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for OCR (``image`` set, ``note`` empty) or the reason it is not;
    a small one (a logo, a QR code alone) is decoded for its codes with ``note`` saying
    why OCR skips it.

    ``width`` and ``height`` are what the header declares (0 when not even that was read).
    """

    image: Image.Image | None
    note: str
    format: str = ""
    width: int = 0
    height: int = 0
    # Decoded although below the size of a letter: read for codes, not by OCR.
    small: bool = False

    @property
    def ready(self) -> bool:
        """Ready for OCR (a letter-size image)."""
        return self.image is not None and not self.small


def prepare_image(data: bytes, limits: ImageLimits | None = None) -> PreparedImage:
    """Decode ``data`` into a greyscale image of at most ``target_side`` px, or say why not."""
    limits = limits or ImageLimits()
    if len(data) > limits.max_bytes:
        return PreparedImage(None, f"too big: {len(data)} bytes")
    try:
        # Image.open reads the header only; nothing is decoded until load().
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        return PreparedImage(None, "pixel bomb: refused by the decoder's limit")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return PreparedImage(None, "not an image this filter reads")
    fmt = image.format or ""
    width, height = image.size

    def refused(note: str) -> PreparedImage:
        image.close()
        return PreparedImage(None, note, fmt, width, height)

    if width * height > limits.max_pixels:
        return refused(f"pixel bomb: {width}x{height} px declared")
    small = min(width, height) < limits.min_side or width * height < limits.min_pixels
    if small and min(width, height) < limits.code_min_side:
        return refused(f"skipped: {width}x{height} px, a logo or tracking pixel")
    try:
        ready = _decode(image, limits.target_side)
    except Image.DecompressionBombError:
        return refused("pixel bomb: refused by the decoder's limit")
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        # Pillow says "image file is truncated" (OSError) for a cut-off JPEG or PNG.
        text = str(error).lower()
        kind = "truncated" if "truncat" in text or isinstance(error, EOFError) else "broken"
        return refused(f"{kind}: {fmt} could not be decoded")
    finally:
        image.close()
    if small:
        note = f"skipped: {width}x{height} px, a logo or tracking pixel"
        return PreparedImage(ready, note, fmt, width, height, small=True)
    return PreparedImage(ready, "", fmt, width, height)


def _decode(image: Image.Image, target: int) -> Image.Image:
    if image.format == "JPEG":
        # Picks a DCT scale of 1/2, 1/4 or 1/8 that stays at or above the target size.
        image.draft("L", (target, target))
    image.load()
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels would turn black in "L"; a letter's paper is white.
        rgba = image.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        page.alpha_composite(rgba)
        grey = page.convert("L")
    else:
        grey = image.convert("L")
    if max(grey.size) > target:
        grey.thumbnail((target, target), Image.Resampling.LANCZOS)
    return grey
