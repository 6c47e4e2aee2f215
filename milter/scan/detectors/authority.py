"""The detectors of the open model of authority (docs/authority.md):

- ``authority_claim``: where a claim to be an authority sits (a display name, an address's
  local part, a subject, letterhead and signature lines, image text, a file name), of
  the registry or of the lexicon of kinds;
- ``official_domain``: a domain (From, Reply-To, a link's host) that speaks for an
  authority: a government zone or a registry authority's own domain. The domain half
  of "entitled to this claim"; ``__AUTHORITY_ENTITLED`` adds DMARC;
- ``unofficial_link``: a link whose host is no authority's, where a mail that claims
  one sends its reader;
- ``disguised_link``: such a link that shows an authority's domain in front of its real
  host or in its path (``www.gov.br.example.com``, ``example.com/gov.br/``);
- ``reply_elsewhere``: a Reply-To on another organisation's domain than From's;
- ``masked_link``: an HTML link whose text shows an authority's domain ("www.gov.br")
  over a link to a host that is not that authority's (target ``link.masked``).
"""

from __future__ import annotations

import re
from typing import Final

from milter.mail.domains import canonical_domain, public_suffix_list
from milter.scan.detectors.base import DetectorContext, Hit, may_name_authority, whole_text_hit
from milter.scan.normalize import NormalizedText

__all__ = [
    "find_authority_claims",
    "find_disguised_link",
    "find_masked_link",
    "find_official_domain",
    "find_reply_elsewhere",
    "find_unofficial_link",
]

# What official() says of a domain under the bare international zones (gov, mil, int).
_BARE_ZONES: Final = "gov:INT"
# How much of a link's path is searched for a domain it shows.
_PATH_HEAD: Final = 300
# A domain written in a link's path ("/www.gov.br/", "?next=receita.fazenda.gov.br").
_DOMAIN_IN_PATH: Final = re.compile(
    r"(?<![\w.-])(?:[a-z0-9-]{1,63}\.){1,6}[a-z]{2,24}(?![\w-])", re.IGNORECASE
)
# The host of a web link (http, https or a bare "www."), past any user info; one regex
# in C, as every link of every message is judged.
_URL_HOST: Final = re.compile(
    r"(?:[a-z][a-z0-9+.-]{0,15}://(?:[^/?#@\s]{0,256}@)?|(?=www\.))([^/?#:\s\\\[\]]{1,253})",
    re.IGNORECASE,
)


def find_authority_claims(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Each authority the text claims to be: an identity id or ``kind:<ID>`` (POLICE,
    COURT, TAX…), quoting the claim. A claim says nothing of the sender: rules combine
    it with ``__AUTHORITY_ENTITLED`` and the signals of a scam."""
    registry = context.identities
    if registry is None:
        return []
    original = normalized.original
    if len(original.split(None, 1)) > 1 and not may_name_authority(normalized, context):
        return []  # a text of words that names no authority (a token is read apart)
    return [
        whole_text_hit(normalized, value, evidence)
        for value, evidence in registry.authority_claims(original, normalized.text)
    ]


def _host(value: str) -> str:
    """The domain of an address, a URL or a bare domain, as written."""
    value = value.strip().strip("<>")
    match = _URL_HOST.match(value)
    if match is not None:
        return match.group(1)
    return value.rpartition("@")[2]


def find_official_domain(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """The domain (or address, or URL host) is a government's or a registry
    authority's: the value says whose (``gov:BE``, ``DE_BKA``)."""
    registry = context.identities
    host = _host(normalized.original)
    official = registry.official(host) if registry is not None and host else None
    return [] if official is None else [whole_text_hit(normalized, official, host)]


def find_unofficial_link(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A web link whose host belongs to no government and no registry authority."""
    registry = context.identities
    match = _URL_HOST.match(normalized.original.strip()) if registry is not None else None
    if match is None:
        return []
    host = match.group(1)
    if registry.official(host) is not None:  # type: ignore[union-attr]
        return []
    return [whole_text_hit(normalized, _organisation(host) or host, host)]


def find_disguised_link(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A web link that leads to no authority but shows an authority's domain on the way:
    in front of the real host (``www.gov.br.regulariza.example``) or in its path
    (``https://x.example/www.gov.br/receita``), where a reader sees "gov.br"."""
    registry = context.identities
    original = normalized.original.strip()
    match = _URL_HOST.match(original) if registry is not None else None
    if match is None or registry is None:
        return []
    host = match.group(1).lower().rstrip(".")
    if registry.may_be_official(host) and registry.official(host) is not None:
        return []
    labels = host.split(".")
    tops = [end for end in range(2, len(labels) - 1) if registry.may_be_official(labels[end - 1])]
    # Runs of two labels or more that stop before the host's own last two labels, at a
    # label that may end an official name; longest first ("www.gov.br", not "gov.br").
    runs = sorted(
        ((start, end) for end in tops for start in range(end - 1)),
        key=lambda run: run[0] - run[1],
    )
    shown = [".".join(labels[start:end]) for start, end in runs]
    rest = original[match.end() : match.end() + _PATH_HEAD]
    if "." in rest:
        shown.extend(
            domain.lower()
            for domain in _DOMAIN_IN_PATH.findall(rest)
            if registry.may_be_official(domain.lower())
        )
    for name in shown:
        owner = registry.official(name)
        # A bare "gov", "mil" or "int" label inside a host or a path ("api.int.example")
        # names no authority; a registry domain or a country's zone does.
        if owner is not None and owner != _BARE_ZONES:
            return [whole_text_hit(normalized, owner, f"{name} (leads to {host})")]
    return []


def find_reply_elsewhere(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A Reply-To address whose organisation (registered domain) is not From's: answers
    go to someone other than the sender named."""
    host = _host(normalized.original)
    if not host or not context.from_domain:
        return []
    reply_org = _organisation(host)
    from_org = _organisation(context.from_domain)
    if reply_org is None or reply_org == from_org:
        return []
    return [whole_text_hit(normalized, reply_org, host)]


def _organisation(domain: str) -> str | None:
    """The registered domain of ``domain`` (by the Public Suffix List), or None."""
    canonical = canonical_domain(domain)
    if canonical is None or "." not in canonical:
        return None
    return public_suffix_list().privatesuffix(canonical) or canonical


def find_masked_link(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """For a ``link.masked`` text ("shown -> host", mail/html.py): the shown domain
    speaks for an authority and the host for none."""
    registry = context.identities
    shown, arrow, host = normalized.original.partition(" -> ")
    if registry is None or not arrow:
        return []
    # A government link under another government name (gov.br shown over a ministry's
    # own domain) sends the reader to an authority all the same.
    if registry.official(shown) is None or registry.official(host) is not None:
        return []
    return [whole_text_hit(normalized, f"{shown} -> {host}", normalized.original)]
