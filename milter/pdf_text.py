"""Text of PDF attachments, extracted within a time and size budget.

The government-impersonation scams often send an empty mail with a "convocation" PDF
that carries the accusation; its text is what the rules need. PDFs from strangers are
hostile input: broken cross-reference tables, compression bombs, pages that take
seconds each. Extraction here never raises and stops at its limits with what it has.
"""

from __future__ import annotations

import io
import logging
import time
import warnings

# pypdf reports every repair it makes to a broken file as a logged warning (and some as
# Python warnings); for us a broken PDF is ordinary input, not news for the mail log.
logging.getLogger("pypdf").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"pypdf(\.|$)")


def pdf_text(
    data: bytes,
    *,
    max_pages: int = 10,
    max_seconds: float = 2.0,
    max_bytes: int = 10_000_000,
) -> str:
    """The text of the first ``max_pages`` pages of the PDF in ``data``.

    A file over ``max_bytes`` is not opened. The elapsed time is checked before each
    page; past ``max_seconds`` the pages read so far are returned (one page in progress
    may run over). A broken or encrypted file yields what could be read, often "".
    Never raises.
    """
    if not data or len(data) > max_bytes:
        return ""
    deadline = time.monotonic() + max_seconds
    texts: list[str] = []
    try:
        # Imported here: it costs tens of milliseconds, and most mail has no PDF.
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many "protected" PDFs only restrict printing and open with an empty
            # password; others cannot be read at all.
            reader.decrypt("")
        for index, page in enumerate(reader.pages):
            if index >= max_pages or time.monotonic() >= deadline:
                break
            try:
                text = page.extract_text()
            except Exception:  # pypdf raises many types on broken pages; skip the page
                continue
            if text:
                texts.append(text)
    except Exception:  # broken file (or RecursionError on nesting): keep what was read
        pass
    return "\n".join(texts)
