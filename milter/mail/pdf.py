"""Text of PDF attachments, extracted within a time, page and decompression budget.

The government-impersonation scams often send an empty mail with a "convocation" PDF
that carries the accusation; its text is what the rules need. PDFs from strangers are
hostile input: broken cross-reference tables, compression bombs, pages that take
seconds each, blank pages in front of the letter, megabytes of padding. Extraction here
never raises and stops at its limits with what it has, and says what it left unread.

- Pages are read from both ends (first, last, second, second to last, ...): a letter
  starts on the first page and padding goes before the last. Pages that show no text
  (no text or form operator) do not count against the page budget; time still does.
- A file over the size limit is still read, within the same budgets: pypdf loads only
  the objects the pages refer to. Whether its pages use most of its bytes is measured
  (``padded``), since padding past the limit is what such a file is for.
- Every stream pypdf decodes is charged to a decompression budget shared by all the
  PDFs of one message (``PdfBudget``), on top of pypdf's own per-stream limits, and
  each decode is capped at what the budget has left. Time is checked at every decode
  and every content-stream operator, so one slow page cannot run far past the limit.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import io
import itertools
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

# pypdf reports every repair it makes to a broken file as a logged warning (and some as
# Python warnings); for us a broken PDF is ordinary input, not news for the mail log.
logging.getLogger("pypdf").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"pypdf(\.|$)")

# Decompressed bytes all the PDFs of one message may produce together. The text of ten
# pages with their fonts is a few megabytes; pypdf's own limit is 75 MB per stream, so
# without this a message of many streams (or many PDFs) could inflate to gigabytes.
PDF_MAX_DECOMPRESSED: Final = 40_000_000
# Input pypdf may feed its byte-at-a-time recovery of a broken Flate stream (its default
# is 5 MB, seconds of Python); the streams of a letter are far smaller.
_MAX_RECOVERY_INPUT: Final = 500_000
# Objects walked to measure the bytes a large file's pages use (padding check).
_MAX_OBJECTS_WALKED: Final = 50_000
# Bytes a file over the size limit may hold outside the streams its document uses before
# it counts as padded (dictionaries and cross-reference tables are outside streams too,
# but they are kilobytes, not megabytes).
_MIN_PADDING: Final = 1_000_000
# Pages looked at in one file, blank ones included (time bounds it too).
_MAX_PAGES_EXAMINED: Final = 5_000
# Content-stream elements (operands, operators) pypdf parses per second here, at the
# least: a page of dense text has about 20,000, a padded one millions.
_PARSE_ELEMENTS_PER_SECOND: Final = 300_000
_MIN_PARSE_ELEMENTS: Final = 20_000
# pypdf's Configuration fields that cap what one decode may output.
_OUTPUT_LIMITS: Final = (
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "jbig2_maximum_output_length",
    "array_based_stream_maximum_output_length",
    "image_maximum_buffer_size",
)


@dataclass
class PdfBudget:
    """What all the PDFs of one message may spend together (one per message)."""

    seconds: float = 2.0
    decompressed: int = PDF_MAX_DECOMPRESSED

    def spent(self) -> bool:
        return self.seconds <= 0 or self.decompressed <= 0


@dataclass(frozen=True)
class PdfText:
    """The text of one PDF and how much of it was read."""

    text: str
    pages: int = 0  # pages in the file (0 when it could not be opened)
    read: int = 0  # pages whose text was read
    blank: int = 0  # pages examined that show no text
    unread: int = 0  # pages not examined at all
    # Why reading stopped early: "pages" (the page budget), "time" or "bytes" (the
    # message's budgets), "count" (more pages than are ever examined), "broken" (pypdf
    # gave up on the file), "encrypted" (no password opened it); "" when every page was
    # examined.
    stopped: str = ""
    cut_page: bool = False  # a page's extraction was cut short by a budget
    oversize: bool = False  # over max_bytes (read all the same)
    # Over max_bytes, and over half of it (and a megabyte at least) is bytes outside the
    # streams its document refers to: filler to push it past the limit.
    padded: bool = False
    # (page number from 1, image bytes) of pages that show no text: a scanned letter.
    images: tuple[tuple[int, bytes], ...] = ()

    @property
    def partial(self) -> str:
        """What was left unread, for the verdict; "" when nothing was."""
        if self.stopped == "encrypted":
            return "encrypted, and no password in the message opens it"
        why = {
            "pages": "page limit",
            "bytes": "decompression budget",
            "count": f"over {_MAX_PAGES_EXAMINED} pages",
            "broken": "the file broke off",
        }.get(self.stopped, "time budget")
        if self.unread:
            cut = ", one more cut short" if self.cut_page else ""
            return f"{self.unread} of {self.pages} pages not read{cut} ({why})"
        if self.cut_page:
            return f"one of its {self.pages} pages cut short ({why})"
        return ""

    @property
    def ends_read(self) -> bool:
        """True when only the page budget stopped the reading, so the first and the last
        pages with text were read: a long document, not a hiding place."""
        return self.stopped == "pages" and not self.cut_page


def _decrypt(reader: Any, passwords: Callable[[], Sequence[bytes]]) -> bool:
    """Open an encrypted PDF: many "protected" PDFs only restrict printing and open with
    the empty password; others with a password the message gives."""
    for password in itertools.chain((b"",), passwords()):
        try:
            if reader.decrypt(password):  # PasswordType: 0 is NOT_DECRYPTED
                return True
        except Exception:  # an unsupported algorithm, a broken encryption dictionary
            return False
    return False


class _SharedBytes(io.BytesIO):
    """A BytesIO that never copies the PDF it reads.

    io.BytesIO shares the bytes it is made from until its buffer is exported, and pypdf
    asks for getbuffer() to learn the size of the file: that copied every PDF once more
    (38 MB for a scan of 38 MB). Without the method pypdf seeks to the end instead, and
    read() of the whole from the start returns the shared bytes themselves.
    """

    @property
    def getbuffer(self) -> Any:  # type: ignore[override]
        raise AttributeError("getbuffer")


class _Stop(Exception):
    """A budget ran out inside pypdf. pypdf catches some exceptions and goes on (a broken
    form is skipped), so every later check raises again until extraction ends."""


@dataclass
class _Reading:
    """The budgets of the PDF being read, as the decode hook and the visitors see them."""

    deadline: float
    budget: PdfBudget
    stopped: str = ""

    def check(self) -> None:
        if self.stopped:
            raise _Stop(self.stopped)
        if self.budget.decompressed <= 0:
            self.stopped = "bytes"
        elif time.monotonic() >= self.deadline:
            self.stopped = "time"
        if self.stopped:
            raise _Stop(self.stopped)

    def charge(self, size: int) -> None:
        self.budget.decompressed -= size
        if self.budget.decompressed < 0:
            self.stopped = "bytes"
            raise _Stop(self.stopped)


_PARSE_LIMIT: Final = "stream_parsing_work_maximum_count"


@functools.cache
def _configuration_fields() -> frozenset[str]:
    """The limits the installed pypdf knows (a name it does not know is a TypeError)."""
    from pypdf import Configuration

    return frozenset(f.name for f in dataclasses.fields(Configuration))


_READING: contextvars.ContextVar[_Reading | None] = contextvars.ContextVar(
    "scam_milter_pdf_reading", default=None
)
_hook_installed = False


def _install_decode_hook() -> None:
    """Route pypdf's decoding of every stream through the message's budget.

    ``pypdf.filters.decode_stream_data`` is the one function every filtered stream is
    decoded by (pypdf looks it up at each call). Outside ``read_pdf`` the wrapper only
    passes through. tests/mail/test_pdf_text.py proves the budget holds with the installed
    pypdf, so a pypdf that stops calling it fails the tests, not production.
    """
    global _hook_installed
    if _hook_installed:
        return
    import pypdf.filters as filters
    from pypdf import apply_configuration, get_configuration
    from pypdf.errors import LimitReachedError

    original = filters.decode_stream_data
    limits = tuple(name for name in _OUTPUT_LIMITS if name in _configuration_fields())

    def decode_stream_data(stream: Any) -> bytes:
        reading = _READING.get()
        if reading is None:
            return original(stream)
        reading.check()
        # 0 disables a pypdf limit: never pass it, and read a 0 already set as "none".
        left = max(1, reading.budget.decompressed)
        current = get_configuration()
        caps = {name: min(left, getattr(current, name) or left) for name in limits}
        try:
            with apply_configuration(
                zlib_maximum_recovery_input_length=_MAX_RECOVERY_INPUT, **caps
            ):
                data = original(stream)
        except LimitReachedError:
            # pypdf inflated up to the cap and gave up: what the budget had is spent.
            reading.budget.decompressed = 0
            reading.stopped = "bytes"
            raise _Stop("bytes") from None
        reading.charge(len(data))
        return data

    filters.decode_stream_data = decode_stream_data
    _hook_installed = True


def _both_ends(count: int) -> Iterator[int]:
    """0, count-1, 1, count-2, ...: each page index once."""
    low, high = 0, count - 1
    while low <= high:
        yield low
        if high != low:
            yield high
        low += 1
        high -= 1


def _page_text(page: Any, reading: _Reading) -> tuple[str, bool]:
    """The text of one page, and whether a budget cut it short."""
    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError

    pieces: list[str] = []

    def before(operator: Any, operands: Any, cm: Any, tm: Any) -> None:
        reading.check()

    def collect(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        pieces.append(text)

    try:
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
        # A page without a text block (BT) or a form (Do) shows no text: skip it without
        # parsing its operators (a scan of a blank page, a padding page).
        if b"BT" not in data and b"Do" not in data:
            return "", False
        # pypdf parses a page's whole content stream before the first operator reaches
        # the visitor: bound the parse by the time left, through pypdf's own limit.
        left = max(0.0, reading.deadline - time.monotonic())
        elements = max(_MIN_PARSE_ELEMENTS, int(left * _PARSE_ELEMENTS_PER_SECOND))
        limit = {_PARSE_LIMIT: elements} if _PARSE_LIMIT in _configuration_fields() else {}
        with apply_configuration(**limit):
            text = page.extract_text(visitor_operand_before=before, visitor_text=collect)
        return text, False
    except (_Stop, LimitReachedError):
        return "".join(pieces), True
    except Exception:  # pypdf raises many types on broken pages; keep what was shown
        return "".join(pieces), bool(reading.stopped)


def _used_bytes(reader: Any, reading: _Reading) -> int | None:
    """Raw stream bytes reachable from the trailer (the document, its pages, fonts and
    images), without decoding any; None when the walk could not finish in budget."""
    from pypdf.generic import IndirectObject, StreamObject

    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    total = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > _MAX_OBJECTS_WALKED or time.monotonic() >= reading.deadline:
                return None
            item = item.get_object()
        if isinstance(item, StreamObject):
            raw = getattr(item, "_data", b"")  # the encoded bytes as stored in the file
            total += len(raw) if isinstance(raw, bytes | bytearray) else 0
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


_PDF_MAGIC = b"%PDF-"


def looks_like_pdf(content_type: str, filename: str, data: bytes) -> bool:
    if content_type == "application/pdf" or filename.lower().endswith(".pdf"):
        return True
    # Scam PDFs also come as application/octet-stream with odd names.
    return _PDF_MAGIC in data[:1024]


def read_pdf(
    data: bytes,
    *,
    max_pages: int = 10,
    max_bytes: int = 10_000_000,
    budget: PdfBudget | None = None,
    passwords: Callable[[], Sequence[bytes]] = tuple,
    max_images: int = 0,
) -> PdfText:
    """Read the text of up to ``max_pages`` pages with text of the PDF in ``data``.

    ``budget`` is shared by the PDFs of one message and is spent by this call (its
    seconds by the time taken, its bytes by what was decompressed). An encrypted file is
    opened with the empty password or one of ``passwords()`` (written in the message:
    attackers protect a PDF to hide it from scanners; only looked for when a PDF is
    encrypted); one that none opens is reported
    unread (``stopped == "encrypted"``). A broken file yields what could be read, often
    "". Never raises. Up to ``max_images`` images of pages without text are returned
    too, for OCR: the biggest of each such page, within the same budgets.
    """
    budget = budget if budget is not None else PdfBudget()
    if not data or budget.spent():
        return PdfText("", stopped="time" if data else "")
    started = time.monotonic()
    reading = _Reading(started + budget.seconds, budget)
    token = _READING.set(reading)
    try:
        return _read(data, max_pages, max_bytes, reading, passwords, max_images)
    finally:
        _READING.reset(token)
        budget.seconds -= time.monotonic() - started


def _read(
    data: bytes,
    max_pages: int,
    max_bytes: int,
    reading: _Reading,
    passwords: Callable[[], Sequence[bytes]],
    max_images: int = 0,
) -> PdfText:
    texts: dict[int, str] = {}
    images: list[tuple[int, bytes]] = []
    count = blank = examined = 0
    stopped = ""
    cut = False
    oversize = len(data) > max_bytes
    padded = False
    try:
        # Imported here: it costs tens of milliseconds, and most mail has no PDF.
        from pypdf import PdfReader

        _install_decode_hook()
        reader = PdfReader(_SharedBytes(data), strict=False)
        if reader.is_encrypted and not _decrypt(reader, passwords):
            return PdfText("", stopped="encrypted")
        pages = reader.pages
        count = len(pages)
        for index in _both_ends(min(count, _MAX_PAGES_EXAMINED)):
            if len(texts) >= max_pages:
                stopped = "pages"
                break
            if reading.stopped or time.monotonic() >= reading.deadline:
                stopped = reading.stopped or "time"
                break
            text, cut_here = _page_text(pages[index], reading)
            examined += 1
            cut = cut or cut_here
            if text.strip():
                texts[index] = text
            elif not cut_here:
                blank += 1
                if len(images) < max_images:
                    image = _page_image(pages[index], reading)
                    if image:
                        images.append((index + 1, image))
            if cut_here:
                stopped = reading.stopped or "time"
                break
        else:
            if count > _MAX_PAGES_EXAMINED:
                stopped = "count"
        if oversize and not reading.stopped:
            used = _used_bytes(reader, reading)
            unused = len(data) - used if used is not None else 0
            padded = unused * 2 > len(data) and unused >= _MIN_PADDING
    except _Stop:
        stopped = stopped or reading.stopped
    except Exception:  # broken file (or RecursionError on nesting): keep what was read
        stopped = stopped or reading.stopped or "broken"
    return PdfText(
        text="\n".join(texts[index] for index in sorted(texts)),
        pages=count,
        read=len(texts),
        blank=blank,
        unread=max(0, count - examined),
        stopped=stopped if (count - examined > 0 or cut) else "",
        cut_page=cut,
        oversize=oversize,
        padded=padded,
        images=tuple(sorted(images)),
    )


# A scanned page's image is a few megabytes at most; bigger ones are not handed on.
_MAX_PAGE_IMAGE: Final = 20_000_000


def _page_image(page: Any, reading: _Reading) -> bytes:
    """The encoded bytes of the biggest image drawn on ``page`` (a scan is one image the
    size of the page), in a format Pillow opens; b"" when there is none. pypdf decodes
    only what it must (a JPEG is handed over as stored) through the budgeted hook."""
    best = b""
    try:
        for image in page.images:
            reading.check()
            data = image.data
            if len(best) < len(data) <= _MAX_PAGE_IMAGE:
                best = data
    except _Stop:
        return best
    except Exception:  # an image pypdf cannot convert (a rare filter, a broken stream)
        return best
    return best
