"""A domain's canonical form, in the two spellings the code compares, and the Public
Suffix List they are measured against.

- ``canonical_domain``: Unicode labels (``xn--`` decoded), what the look-alike check
  compares, since a look-alike is what a reader sees (docs/identities.md). Host-name
  labels only: letters, digits and hyphens.
- ``ascii_domain``: A-labels, what DNS and DMARC compare (RFC 7489 3.1 compares names
  as DNS does). DNS labels: underscores allowed (``_dmarc``), 253 characters at most.

Both are lower case, without the final dot, and ``None`` for what is no domain name
(empty, an address literal such as ``[192.0.2.1]``, a bad label). One module so both
sides agree on what a domain is; in ``mail/`` so the pure scanner (``scan/``) and the
authentication (``auth/``) may both import it (tests/test_boundaries.py).
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from typing import Final

from dns.exception import DNSException
from dns.name import from_text as dns_name
from publicsuffixlist import PublicSuffixList

__all__ = ["ascii_domain", "canonical_domain", "public_suffix_list"]

# Dots that IDNA (RFC 3490 3.1) treats as label separators.
_IDNA_DOTS: Final = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
# A host-name label (RFC 1123 2.1) in any script: no underscore, no hyphen at an end.
_HOST_LABEL: Final = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")
# A DNS label as mail uses it: underscores allowed (RFC 8552 "_dmarc", DKIM selectors).
_DNS_LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# RFC 1035 2.3.4: 255 octets on the wire, 253 characters as text without the final dot.
_MAX_NAME: Final = 253


@functools.cache
def public_suffix_list() -> PublicSuffixList:
    """The Public Suffix List, built once per process (the list ships inside the package,
    about 27 ms and 1.4 MB to build) and never changed. Call it at start-up so the first
    message does not wait for it."""
    return PublicSuffixList()


def _bare(domain: str) -> str | None:
    """``domain`` stripped, lower case, without the final dot; None for no name at all."""
    text = domain.strip().translate(_IDNA_DOTS).rstrip(".")
    if not text or text.startswith("["):
        return None
    return text.lower()


def canonical_domain(domain: str) -> str | None:
    """``domain`` lower-cased, without a trailing dot, ``xn--`` labels decoded (NFC).

    Returns ``None`` when it is not a host name (empty, an address literal, a label
    that is empty or has characters other than letters, digits and hyphens).
    """
    text = _bare(unicodedata.normalize("NFC", domain))
    if text is None:
        return None
    labels = []
    for label in text.split("."):
        if label.startswith("xn--"):
            try:
                label = codecs.decode(label[4:].encode("ascii"), "punycode").lower()
            except (UnicodeError, ValueError):
                return None
        if not _HOST_LABEL.fullmatch(label):
            return None
        labels.append(label)
    return ".".join(labels)


def ascii_domain(domain: str) -> str | None:
    """``domain`` as a lower-case A-label name without the final dot; None if it is no
    domain name (empty, a literal such as ``[192.0.2.1]``, bad labels, over 253)."""
    name = _bare(domain)
    if name is None:
        return None
    if (
        name.isascii()
        and len(name) <= _MAX_NAME
        and all(map(_DNS_LABEL.fullmatch, name.split(".")))
    ):
        # Already an A-label name (nearly every domain in mail): what dnspython would
        # give back, without building a dns.name.Name (a few times a message).
        return name
    try:
        # dnspython's IDNA encoding, as the DNS lookups of the same name use.
        ascii_name = dns_name(domain.strip().rstrip(".")).to_text(omit_final_dot=True).lower()
    except (DNSException, ValueError, UnicodeError):
        return None
    if len(ascii_name) > _MAX_NAME or not all(map(_DNS_LABEL.fullmatch, ascii_name.split("."))):
        return None
    return ascii_name
