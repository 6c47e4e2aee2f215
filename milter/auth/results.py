"""The results of sender authentication, as an Authentication-Results value and as JSON.

The header (RFC 8601) looks like this, on one line (the proxy may fold it at spaces):

    mx.example.org; spf=pass smtp.mailfrom=example.org;
     dkim=pass header.d=example.org header.s=sel header.i=@example.org;
     dkim=fail (body hash mismatch) header.d=list.example header.s=k1;
     dmarc=fail (p=reject) header.from=example.org

    mx.example.org; none (client unknown, SPF not checked)

Reasons and notes go in comments right after the result. Everything that comes from
the message or the DNS (domains, selectors, reasons) is reduced to printable ASCII and
escaped (comments: ``\\(``, ``\\)``, ``\\\\``; property values that are not a plain token
or address become quoted strings), so a hostile signature or record cannot end the
header, add a field, or fake another result. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from milter.auth.dkim import DkimResult
from milter.auth.dmarc import DmarcResult, SpfLike
from milter.mail.display import Fit, safe_text
from milter.mail.domains import ascii_domain
from milter.mail.headers import RawMessage, field_name

_COMMENT_LIMIT = 120
_VALUE_LIMIT = 255


@dataclass(frozen=True)
class AuthResults:
    spf: SpfLike | None  # None when not checked (no client address known)
    dkim: tuple[DkimResult, ...]
    dmarc: DmarcResult | None  # None when not checked (no single From domain)
    from_domain: str = ""
    client_ip: str = ""
    helo: str = ""
    note: str = ""  # e.g. "offline" or "DNS disabled" when nothing was checked

    @property
    def checked(self) -> bool:
        """True when any check ran (False for ``check --offline`` and auth disabled)."""
        return self.spf is not None or self.dmarc is not None or bool(self.dkim)

    def to_json(self) -> dict[str, Any]:
        """The results for ``check --json`` (under ``auth``) and the logs.

        Always the same keys, so scripts need no special cases::

            {"checked": true, "note": "",
             "from_domain": "example.org", "client_ip": "192.0.2.7", "helo": "mx.example.org",
             "spf":   {"result": "pass", "domain": "example.org", "identity": "mailfrom",
                       "reason": ""},
             "dkim":  [{"result": "pass", "domain": "example.org", "selector": "sel",
                        "identity": "@example.org", "reason": ""}],
             "dmarc": {"result": "pass", "domain": "example.org", "policy": "reject",
                       "record_domain": "example.org", "spf_aligned": true,
                       "dkim_aligned": true, "aligned_dkim_domain": "example.org",
                       "reason": ""}}

        A check that did not run has ``"result": "unavailable"`` (spf, dmarc) with the
        other fields null, and its reason in ``reason``; ``checked`` is false when none
        ran, and ``dkim`` is then empty (with ``checked`` true, an empty ``dkim`` means
        the message has no signature: RFC 8601 "none").
        """
        return {
            "checked": self.checked,
            "note": self.note,
            "from_domain": self.from_domain,
            "client_ip": self.client_ip,
            "helo": self.helo,
            "spf": self._spf_json(),
            "dkim": [
                {
                    "result": d.result,
                    "domain": d.domain,
                    "selector": d.selector,
                    "identity": d.identity,
                    "reason": d.reason,
                }
                for d in self.dkim
            ],
            "dmarc": self._dmarc_json(),
        }

    def _spf_json(self) -> dict[str, Any]:
        spf = self.spf
        if spf is None:
            reason = self.note or "not checked"
            return {"result": "unavailable", "domain": None, "identity": None, "reason": reason}
        return {
            "result": spf.result,
            "domain": spf.domain,
            "identity": spf.identity,
            "reason": getattr(spf, "reason", "") or "",
        }

    def _dmarc_json(self) -> dict[str, Any]:
        dmarc = self.dmarc
        if dmarc is None:
            reason = self.note if not self.checked else "no single From domain"
            return {
                "result": "unavailable",
                "domain": self.from_domain or None,
                "policy": None,
                "record_domain": None,
                "spf_aligned": None,
                "dkim_aligned": None,
                "aligned_dkim_domain": None,
                "reason": reason or "not checked",
            }
        return {
            "result": dmarc.result,
            "domain": dmarc.domain,
            "policy": dmarc.policy,
            "record_domain": dmarc.record_domain,
            "spf_aligned": dmarc.spf_aligned,
            "dkim_aligned": dmarc.dkim_aligned,
            "aligned_dkim_domain": dmarc.aligned_dkim_domain,
            "reason": dmarc.reason,
        }

    def header_value(self, authserv_id: str) -> str:
        """The Authentication-Results value (RFC 8601 2.2), one line, printable ASCII.

        Methods in the order spf, dkim (one per signature), dmarc. A method that was not
        checked is left out; when nothing was checked the value is ``<id>; none``. When
        some check ran and the message has no signature, ``dkim=none`` says so.
        """
        parts = [_value(authserv_id)]
        if not self.checked:
            parts.append("none" + _comment(self.note))
            return "; ".join(parts)
        spf = self.spf
        if spf is not None:
            prop = "smtp.helo" if spf.identity == "helo" else "smtp.mailfrom"
            parts.append(
                _method(
                    "spf",
                    spf.result,
                    getattr(spf, "reason", "") or "",
                    [(prop, _domain(spf.domain))],
                )
            )
        for d in self.dkim:
            props = [
                ("header.d", _domain(d.domain)),
                ("header.s", d.selector),
                ("header.i", d.identity),
            ]
            parts.append(_method("dkim", d.result, d.reason, props))
        if not self.dkim:
            parts.append("dkim=none")
        dmarc = self.dmarc
        if dmarc is not None:
            comment = f"p={dmarc.policy}" if dmarc.policy else ""
            if dmarc.reason and dmarc.result != "pass":
                comment = f"{comment}; {dmarc.reason}" if comment else dmarc.reason
            parts.append(_method("dmarc", dmarc.result, comment, [("header.from", dmarc.domain)]))
        return "; ".join(parts)


_RESULT = re.compile(r"[a-z]+")


def _method(method: str, result: str, reason: str, props: list[tuple[str, str]]) -> str:
    # A result is a keyword; anything else (a bug elsewhere) must not reach the header.
    if not _RESULT.fullmatch(result):
        result = "permerror"
    text = f"{method}={result}{_comment(reason)}"
    for name, value in props:
        if value:
            text += f" {name}={_value(value)}"
    return text


def _domain(text: str) -> str:
    """A domain as its A-label form when it is a valid name (U-labels are not ASCII)."""
    return ascii_domain(text) or text if text else ""


def _printable(text: str, limit: int) -> str:
    """One line of printable ASCII: whitespace runs (line breaks included) become one
    space, every other character outside printable ASCII "?"; at most ``limit``."""
    return safe_text(text, Fit.ASCII, whitespace="collapse", limit=limit)


def _comment(text: str) -> str:
    """`` (text)`` as an RFC 5322 comment with its specials escaped, or "" for no text."""
    text = _printable(text, _COMMENT_LIMIT)
    if not text:
        return ""
    return " (" + re.sub(r"([()\\])", r"\\\1", text) + ")"


# RFC 2045 token (no tspecials, no space or controls), and RFC 8601's
# [local-part] "@" domain-name form for header.i and smtp.mailfrom.
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_ADDRESS = re.compile(
    r"(?:[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+(?:\.[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+)*)?@[0-9A-Za-z_][0-9A-Za-z_.\-]*"
)


def _value(text: str) -> str:
    """A property value (or the authserv-id): as is when it is a token or an address,
    else a quoted-string with ``"`` and ``\\`` escaped; at most 255 characters."""
    # Longer than any domain name: only a hostile value is cut.
    text = _printable(text, _VALUE_LIMIT)
    if _TOKEN.fullmatch(text) or _ADDRESS.fullmatch(text):
        return text
    return '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'


def authserv_id_of(header_value: str) -> str | None:
    """The authserv-id of an Authentication-Results value (RFC 8601 2.2), or None.

    Leading CFWS (spaces, folding, comments, which nest and may contain quoted-pairs) is
    skipped; the id is a token or a quoted-string (returned unquoted). None when the
    value is empty or malformed (an unclosed comment or quoted-string). Compare the
    result case-insensitively: it is normally a domain name.
    """
    text = header_value
    i, end = 0, len(text)
    while i < end:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == "(":
            i = _skip_comment(text, i)
            if i < 0:
                return None
        else:
            break
    if i >= end:
        return None
    if text[i] == '"':
        out = []
        i += 1
        while i < end:
            c = text[i]
            if c == "\\" and i + 1 < end:
                out.append(text[i + 1])
                i += 2
            elif c == '"':
                return "".join(out).strip() or None
            elif c in "\r\n":
                i += 1  # folding inside a quoted-string
            else:
                out.append(c)
                i += 1
        return None
    start = i
    while i < end and text[i] not in ' \t\r\n;()"<>@,:\\/[]?=':
        i += 1
    return text[start:i] or None


def _skip_comment(text: str, i: int) -> int:
    """The index after the comment opening at ``text[i]``; -1 if it never closes."""
    depth = 0
    end = len(text)
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def remove_our_auth_results(message: RawMessage, authserv_id: str) -> RawMessage:
    """Drop Authentication-Results fields that claim to be ours (RFC 8601 section 5):
    only we may write them, so one arriving from outside is forged."""
    wanted = authserv_id.lower()
    kept = []
    for raw_field in message.fields:
        if field_name(raw_field) == "authentication-results":
            value = raw_field.split(b":", 1)[1].decode("ascii", "replace")
            found = authserv_id_of(value)
            # One we cannot parse but that names our id is dropped too: a lenient reader
            # further on might still take it for ours.
            ours = found.lower() == wanted if found is not None else wanted in value.lower()
            if ours:
                continue
        kept.append(raw_field)
    if len(kept) == len(message.fields):
        return message
    return RawMessage(tuple(kept), message.separator, message.body, message.newline)
