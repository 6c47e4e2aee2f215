"""The email policy the message view parses with: the modern one, with parsed headers reused.

Split from message_view.py, which uses it; see ``_ReusingPolicy`` and ``MimeHeaderCache``.
"""

from __future__ import annotations

from collections.abc import Callable
from email.headerregistry import BaseHeader
from email.policy import EmailPolicy
from typing import Final

_MAX_REUSED_HEADER: Final = 500


class _ReusingPolicy(EmailPolicy):
    """``email.policy.default``, except that a header value it has parsed is reused
    within one message.

    The modern policy parses a header again on every access, and the parser itself reads
    Content-Type four or five times per part (get_content_type, get_content_maintype,
    get_boundary): that was half the cost of parsing a plain message. A header object
    depends only on its name and value and nobody here modifies one, so equal inputs can
    share it. The cache belongs to one message (``for_message``), not to the process;
    long values are not kept (a hostile message could fill it with megabytes), they are
    parsed as before.
    """

    # Set per message by for_message(); None: parse every time, as the default policy.
    header_cache: dict[tuple[str, str], BaseHeader] | None = None
    # Shared by the messages one scanner reads (see MimeHeaderCache), or None.
    mime_headers: MimeHeaderCache | None = None

    def for_message(self, mime_headers: MimeHeaderCache | None = None) -> _ReusingPolicy:
        return self.clone(header_cache={}, mime_headers=mime_headers)

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):
            return value
        # As EmailPolicy.header_fetch_parse: line breaks removed, nothing else.
        value = value.replace("\r", "").replace("\n", "")
        cache = self.header_cache
        if cache is None or len(value) > _MAX_REUSED_HEADER:
            return self.header_factory(name, value)
        key = (name, value)
        header = cache.get(key)
        if header is None:
            shared = self.mime_headers
            if shared is not None and name.lower() in MimeHeaderCache.NAMES:
                header = shared.get(key, self.header_factory)
            else:
                header = self.header_factory(name, value)
            cache[key] = header
        return header


class MimeHeaderCache:
    """Parsed MIME structure fields shared between messages.

    "Content-Type: text/plain; charset=utf-8" and a few dozen other values make up most
    of these fields in real mail, and parsing one with the modern policy costs about as
    much as the rest of a small message's headers. Only these fields are shared (Subject
    or From repeat far less), at most ``MAX_ENTRIES`` of them; a header object depends
    only on its name and value, and nothing modifies one. One cache per scanner.
    """

    NAMES: Final = frozenset(
        {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
    )
    MAX_ENTRIES: Final = 512

    def __init__(self) -> None:
        self._headers: dict[tuple[str, str], BaseHeader] = {}

    def get(self, key: tuple[str, str], parse: Callable[[str, str], BaseHeader]) -> BaseHeader:
        header = self._headers.get(key)
        if header is None:
            header = parse(*key)
            if len(self._headers) >= self.MAX_ENTRIES:
                self._headers.clear()  # boundaries make many values unique: start over
            self._headers[key] = header
        return header
