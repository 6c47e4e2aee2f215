"""The arguments of MAIL FROM and RCPT TO, parsed without I/O and kept as sent.

aiosmtpd upper-cases the whole parameter string (values too), keeps only BODY, SMTPUTF8
and SIZE and refuses every RCPT parameter. A proxy must do better: DSN parameters
(RFC 3461: ENVID, RET, NOTIFY, ORCPT) travel to the next hop unchanged, and ENVID and
ORCPT are case-sensitive data (``ORCPT=rfc822;Bob@Example.COM``). So this module returns
each parameter as the client wrote it, checks the RFC 5321 syntax, and judges only the
parameters whose meaning it knows; any other well-formed parameter is passed on for the
next hop to judge.

Grammar (RFC 5321 section 4.1.2, RFC 6531 for UTF-8)::

    "FROM:" ( "<>" / Reverse-path ) [SP Mail-parameters]
    "TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]
    esmtp-param   = esmtp-keyword ["=" esmtp-value]
    esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    esmtp-value   = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)

Replies: 501 for bad syntax (with 5.1.7 or 5.1.3 for a bad address, RFC 3463), 555 for a
parameter known to belong elsewhere or a value we do not implement (RFC 5321 4.2.3).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from milter.errors import ScamMilterError
from milter.mail.envelope import Param
from milter.smtp.replies import Reply
from milter.smtp.xforward import shown

__all__ = ["ParamError", "parse_mail", "parse_rcpt", "size_param"]

_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
# esmtp-value: printable ASCII except "=", or any non-ASCII character (RFC 6531 3.3).
# Lone surrogates stand for bytes that were not UTF-8 and are refused.
_VALUE = re.compile(r"(?:[!-<>-~]|[^\x00-\x7f\ud800-\udfff])+\Z")
# atext (RFC 5322 3.2.3) plus UTF8-non-ascii (RFC 6531 3.3), and ".".
_DOT_STRING = re.compile(r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]|[^\x00-\x7f\ud800-\udfff])+\Z")
# qtextSMTP / quoted-pairSMTP (RFC 5321 4.1.2), plus UTF-8.
_QUOTED = re.compile(r'"(?:[ !#-\[\]-~]|\\[ -~]|[^\x00-\x7f\ud800-\udfff])*"\Z')
# A domain label: letters, digits, hyphens; U-labels (RFC 6531) may be non-ASCII.
# "_" is not in RFC 5321's Let-dig, but Postfix accepts it and such names exist.
_LABEL = re.compile(r"(?:[A-Za-z0-9_-]|[^\x00-\x7f\ud800-\udfff])+\Z")
# General-address-literal: Standardized-tag ":" 1*dcontent (RFC 5321 4.1.3).
_GENERAL_LITERAL = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9]:[!-Z^-~]+\Z")
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})+\Z")

# Where each parameter we know belongs. RFC 1870 SIZE, RFC 6152 BODY, RFC 6531
# SMTPUTF8 and RFC 3461 RET/ENVID are MAIL parameters; NOTIFY and ORCPT are RCPT ones.
_MAIL_ONLY = frozenset({"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID"})
_RCPT_ONLY = frozenset({"NOTIFY", "ORCPT"})
# RFC 3461 4.4: ENVID is at most 100 characters; RFC 3461 4.2: ORCPT at most 500.
_MAX_ENVID = 100
_MAX_ORCPT = 500


class ParamError(ScamMilterError):
    """A MAIL or RCPT argument the front refuses; ``reply`` is the answer to give."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


def _syntax(text: str) -> ParamError:
    return ParamError(Reply(501, f"5.5.4 {text}"))


def _unsupported(text: str) -> ParamError:
    return ParamError(Reply(555, f"5.5.4 {text}"))


def parse_mail(argument: str | None) -> tuple[str, tuple[Param, ...]]:
    """Parse ``FROM:<address> [params]``; ``""`` is the null sender ``<>``.

    Raises ``ParamError`` with a 501 or 555 reply.
    """
    address, params = _parse(argument, "FROM:", "MAIL FROM:<address> [parameters]")
    if address is None:
        address = ""
    elif not _valid_mailbox(address, postmaster_ok=False):
        raise ParamError(Reply(501, "5.1.7 Bad sender address syntax"))
    _check_params(params, _check_mail_param, others=_RCPT_ONLY, other_verb="RCPT TO")
    return address, params


def parse_rcpt(argument: str | None) -> tuple[str, tuple[Param, ...]]:
    """Parse ``TO:<address> [params]``. Raises ``ParamError`` with a 501 or 555 reply."""
    address, params = _parse(argument, "TO:", "RCPT TO:<address> [parameters]")
    if address is None or not _valid_mailbox(address, postmaster_ok=True):
        raise ParamError(Reply(501, "5.1.3 Bad recipient address syntax"))
    _check_params(params, _check_rcpt_param, others=_MAIL_ONLY, other_verb="MAIL FROM")
    return address, params


def size_param(params: Iterable[Param]) -> int | None:
    """The declared message size (RFC 1870 SIZE=), or ``None`` when not given.

    ``params`` come from ``parse_mail``, which has checked SIZE is all digits.
    """
    for key, value in params:
        if key.upper() == "SIZE" and value is not None and value.isdigit():
            return int(value)
    return None


def _parse(argument: str | None, keyword: str, usage: str) -> tuple[str | None, tuple[Param, ...]]:
    """Split ``KEYWORD<path> params``; the address is ``None`` for ``<>``."""
    if argument is None or argument[: len(keyword)].upper() != keyword:
        raise _syntax(f"Syntax: {usage}")
    # RFC 5321 has no space after the colon, but many clients send one and Postfix
    # accepts it (strict_rfc821_envelopes = no); refusing it would only lose mail.
    rest = argument[len(keyword) :].lstrip(" ")
    if not rest.startswith("<"):
        raise _syntax(f"Syntax: {usage}")
    end = _path_end(rest)
    if end is None:
        raise _syntax(f"Syntax: {usage}")
    path, tail = rest[1:end], rest[end + 1 :]
    if tail and not tail.startswith(" "):
        raise _syntax(f"Syntax: {usage}")
    return _strip_source_route(path) if path else None, _parse_params(tail)


def _path_end(text: str) -> int | None:
    """Index of the ">" closing the path at ``text[0]``, skipping quoted strings."""
    quoted = False
    i = 1
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1  # quoted-pairSMTP: the next character is literal, even '"' or '>'
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ">":
            return i
        i += 1
    return None


def _strip_source_route(path: str) -> str:
    # RFC 5321 4.1.2 and appendix C: a source route ("@relay1,@relay2:user@domain")
    # MUST be accepted, SHOULD NOT be used, and MAY be ignored; we drop it.
    if path.startswith("@"):
        route, colon, mailbox = path.partition(":")
        hops = route.split(",")
        if colon and all(h.startswith("@") and _valid_domain(h[1:]) for h in hops):
            return mailbox
    return path


def valid_mailbox(address: str) -> bool:
    """An RFC 5321 Mailbox (RFC 6531's UTF-8 allowed) with no unprintable character: what
    an address typed by an admin (``quarantine release --to``) must be before it goes into
    a RCPT command."""
    return address.isprintable() and _valid_mailbox(address, postmaster_ok=False)


def _valid_mailbox(address: str, *, postmaster_ok: bool) -> bool:
    """Local-part "@" (Domain / address-literal), leniently as Postfix reads it."""
    if postmaster_ok and address.lower() == "postmaster":
        return True  # RFC 5321 4.1.1.3: "<Postmaster>" without a domain
    local, at, domain = address.rpartition("@")
    if not at or not local or not _valid_domain(domain):
        return False
    if local.startswith('"'):
        return _QUOTED.match(local) is not None
    # Dot-string, but dots anywhere: "john..doe@" and "doe.@" break RFC 5321 yet are
    # real mailboxes that Postfix (strict_rfc821_envelopes = no) has already accepted;
    # refusing them here would bounce mail. The characters are still checked.
    return _DOT_STRING.match(local) is not None


def _valid_domain(domain: str) -> bool:
    if domain.startswith("[") and domain.endswith("]"):
        return _valid_literal(domain[1:-1])
    labels = domain.split(".")
    return all(label and _LABEL.match(label) for label in labels)


def _valid_literal(literal: str) -> bool:
    if literal[:5].lower() == "ipv6:":
        try:
            ipaddress.IPv6Address(literal[5:])
        except ValueError:
            return False
        return True
    try:
        ipaddress.IPv4Address(literal)
    except ValueError:
        return _GENERAL_LITERAL.match(literal) is not None
    return True


def _parse_params(text: str) -> tuple[Param, ...]:
    params: list[Param] = []
    seen: set[str] = set()
    # One SP separates parameters (RFC 5321); runs of spaces are tolerated.
    for element in text.split(" "):
        if not element:
            continue
        key, eq, value = element.partition("=")
        if not _KEYWORD.match(key):
            raise _syntax(f"Bad parameter keyword: {shown(key)}")
        if eq and not _VALUE.match(value):
            raise _syntax(f"Bad value for parameter {shown(key)}")
        if key.upper() in seen:
            # RFC 1869 4.3 names each keyword once; two NOTIFYs are ambiguous.
            raise _syntax(f"Duplicate parameter: {shown(key)}")
        seen.add(key.upper())
        params.append((key, value if eq else None))
    return tuple(params)


def _check_params(
    params: tuple[Param, ...],
    check: Callable[[str, str | None], None],
    *,
    others: frozenset[str],
    other_verb: str,
) -> None:
    """Refuse a parameter of the other verb (``others``), and ``check`` each of ours."""
    for key, value in params:
        upper = key.upper()
        if upper in others:
            raise _unsupported(f"{shown(key)} is a {other_verb} parameter")
        check(upper, value)


def _check_mail_param(upper: str, value: str | None) -> None:
    if upper == "SIZE":
        if value is None or not value.isascii() or not value.isdigit() or len(value) > 20:
            raise _syntax("Bad SIZE parameter")
    elif upper == "BODY":
        body = (value or "").upper()
        if body == "BINARYMIME":
            # RFC 3030: BINARYMIME needs BDAT (CHUNKING), which we do not offer.
            raise _unsupported("BODY=BINARYMIME is not supported")
        if body not in ("7BIT", "8BITMIME"):
            raise _syntax("Bad BODY parameter, 7BIT or 8BITMIME expected")
    elif upper == "SMTPUTF8":
        if value is not None:
            raise _syntax("SMTPUTF8 takes no value")
    elif upper == "RET":
        if (value or "").upper() not in ("FULL", "HDRS"):
            raise _syntax("Bad RET parameter, FULL or HDRS expected")
    elif upper == "ENVID" and (value is None or len(value) > _MAX_ENVID or not _XTEXT.match(value)):
        raise _syntax("Bad ENVID parameter")


def _check_rcpt_param(upper: str, value: str | None) -> None:
    if upper == "NOTIFY":
        words = (value or "").upper().split(",")
        # RFC 3461 4.1: NEVER alone, or one or more of SUCCESS, FAILURE, DELAY.
        if words != ["NEVER"] and (
            not set(words) <= {"SUCCESS", "FAILURE", "DELAY"} or len(set(words)) != len(words)
        ):
            raise _syntax("Bad NOTIFY parameter")
    elif upper == "ORCPT":
        # addr-type ";" xtext (RFC 3461 4.2); the address itself is the next hop's
        # to judge (RFC 6533 "utf-8" addresses have their own encoding).
        addr_type, semi, original = (value or "").partition(";")
        if (
            not semi
            or not original
            or not _KEYWORD.match(addr_type)
            or len(value or "") > _MAX_ORCPT
        ):
            raise _syntax("Bad ORCPT parameter")
