"""QR codes and barcodes in images, decoded with zxing-cpp (issue 12, "QR codes").

A wallet address or a payment link that sits only in a QR image is invisible to rules
reading text; decoded here, it reaches the detectors like text of the message. zxing-cpp
reads every format it knows in one pass over the greyscale image OCR uses: about 10 ms
for a letter at 1,400 px (bench/ocr_cost.py), against hundreds for the OCR itself, and it
needs no model. Without the library, images are still read by OCR; ``available`` says so.
"""

from __future__ import annotations

from typing import Any, Final

try:
    import zxingcpp

    AVAILABLE = True
except ImportError:  # the filter runs without it
    zxingcpp = None
    AVAILABLE = False

# Codes kept per image, and characters per code: a QR code holds at most 7,089 digits,
# and a payment code a few hundred characters.
MAX_CODES: Final = 10
MAX_CODE_CHARS: Final = 4096


def read_codes(image: Any) -> tuple[str, ...]:
    """The text of the codes found in a Pillow image, in reading order; () on any error
    (a hostile image costs a note elsewhere, never the message)."""
    if zxingcpp is None:
        return ()
    try:
        found = zxingcpp.read_barcodes(image)
    except Exception:  # an image the library cannot take: no codes, not a failure
        return ()
    texts = [code.text[:MAX_CODE_CHARS] for code in found if code.valid and code.text]
    return tuple(dict.fromkeys(texts))[:MAX_CODES]
