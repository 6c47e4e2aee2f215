"""Where a letter names its sender: its letterhead (first lines) and its signature
block (last lines), the parts of a body that ``claims`` reads (docs/identities.md)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["letterhead", "signature_block"]

# How much of a long text signature_block and letterhead read first (see there).
_EDGE_CHARS: Final = 4096

_LIST_FOOTER: Final = re.compile(r"_{20,}\s*")
# A mailing-list footer is looked for among the last this many non-empty lines.
_FOOTER_LINES: Final = 7


def signature_block(body: str, lines: int = 15) -> str:
    """The last ``lines`` non-empty lines of ``body``: where a letter is signed.

    Quoted lines ("> …") and a mailing-list footer (a line of underscores and what
    follows it, as Mailman appends) are left out.
    """
    if lines <= 0:
        return ""
    if len(body) > _EDGE_CHARS:
        # Most letters have their block in the last few kilobytes: read only those
        # (without the first, maybe cut, line) when they hold a whole block.
        kept = _signature_tail(body[-_EDGE_CHARS:].splitlines()[1:], lines)
        if len(kept) >= lines:
            return "\n".join(kept)
    return "\n".join(_signature_tail(body.splitlines(), lines))


def _signature_lines(all_lines: list[str]) -> list[str]:
    kept = [line.rstrip() for line in all_lines if line.strip()]
    for index in range(len(kept) - 1, max(-1, len(kept) - 1 - _FOOTER_LINES), -1):
        if _LIST_FOOTER.fullmatch(kept[index].strip()):
            kept = kept[:index]
            break
    return [line for line in kept if not line.lstrip().startswith(">")]


def _signature_tail(all_lines: list[str], lines: int) -> list[str]:
    """``_signature_lines(all_lines)[-lines:]``, reading from the end only as far as
    needed: a footer cut removes at most ``_FOOTER_LINES`` lines, so once that many more
    unquoted lines than wanted are read, the rest cannot change the answer."""
    tail: list[str] = []
    unquoted = 0
    for line in reversed(all_lines):
        if not line.strip():
            continue
        tail.append(line)
        if not line.lstrip().startswith(">"):
            unquoted += 1
            if unquoted >= lines + _FOOTER_LINES:
                break
    tail.reverse()
    return _signature_lines(tail)[-lines:]


def letterhead(body: str, lines: int = 5) -> str:
    """The first ``lines`` non-empty lines of ``body``: where a letter names its sender.

    Impersonation letters open with the authority ("BUNDESKRIMINALAMT / Abteilung
    Cyberkriminalität", "Federal Bureau of Investigation (FBI)") as often as they sign
    with it. Quoted lines ("> …") are left out.
    """
    if lines <= 0:
        return ""
    if len(body) > _EDGE_CHARS:
        # As signature_block, from the other end: the first few kilobytes, without
        # their last, maybe cut, line, when they hold enough lines.
        kept = _letterhead_head(body[:_EDGE_CHARS].splitlines()[:-1], lines)
        if len(kept) >= lines:
            return "\n".join(kept)
    return "\n".join(_letterhead_head(body.splitlines(), lines))


def _letterhead_head(all_lines: list[str], lines: int) -> list[str]:
    """The first ``lines`` non-empty, unquoted lines of ``all_lines``."""
    kept: list[str] = []
    for line in all_lines:
        if line.strip() and not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
            if len(kept) == lines:
                break
    return kept
