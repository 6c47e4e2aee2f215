"""DKIM verification (RFC 6376, RFC 8301) of every DKIM-Signature of a message, with dkimpy.

Each signature gets one result, in message order (topmost first), with the RFC 8601
section 2.7.1 words:

    pass       the signature verified
    fail       the key was found but the body hash or the signature does not match
    permerror  the signature cannot be verified and never will be: a malformed or
               incomplete DKIM-Signature, From not signed, rsa-sha1 (RFC 8301 3.1),
               no key at <s>._domainkey.<d>, a revoked key (empty p=, RFC 6376 3.6.1),
               an unusable key record, a key of the wrong type, an expired signature
    temperror  the key could not be fetched (DNS timeout, SERVFAIL): never a pass
    neutral    an algorithm this host cannot check (ed25519-sha256 without pynacl), or
               the summary entry for signatures over the limit (see below)
    policy     the signature verified but covers only part of the body (l= shorter than
               the body): text after the signed part could be anything, so it must not
               lend the signer's name to the message (RFC 6376 8.2)

A message without signatures gives an empty tuple (RFC 8601 "none").

Only the first ``max_signatures`` signatures are verified, each costs a DNS lookup and a
pass over the body. When there are more, one extra ``neutral`` result with an empty
domain and selector says how many were not verified, so the list (and the
Authentication-Results header made from it) stays bounded whatever a sender adds.

dkimpy does the canonicalisation and the cryptography. The key lookup is done here, on
the project's DNS client and within the caller's deadline, because dkimpy folds "no key",
"bad key" and "DNS timeout" into one False: here each gets its own result. dkimpy then
gets the chosen key record through a ``dnsfunc`` closure. Nothing here raises: any
exception from dkimpy for one signature becomes a permerror for that signature.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

import dkim
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.util import DuplicateTag, InvalidTagSpec, InvalidTagValueList, parse_tag_value
from dns.exception import DNSException
from dns.name import from_text as dns_name

from milter.auth.dns import DnsClient, DnsTempError
from milter.mail.display import Fit, safe_text

log = logging.getLogger(__name__)

try:  # dkimpy verifies ed25519-sha256 (RFC 8463) only with pynacl installed.
    import nacl.signing  # noqa: F401

    ED25519_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the host
    ED25519_SUPPORTED = False

_REASON_LIMIT = 160


@dataclass(frozen=True)
class DkimResult:
    """The outcome of one DKIM-Signature."""

    result: str  # pass fail neutral policy temperror permerror (RFC 8601 2.7.1)
    domain: str  # d= (lower case), "" when the signature has none
    selector: str  # s=
    reason: str = ""  # why not pass, one line (for the A-R comment)
    identity: str = ""  # i= when present


def verify_dkim(
    raw: bytes, dns: DnsClient, deadline: float | None = None, max_signatures: int = 5
) -> tuple[DkimResult, ...]:
    """Verify every DKIM-Signature of ``raw`` (up to ``max_signatures``); never raises.

    ``deadline`` (time.monotonic) bounds all key lookups together.
    """
    try:
        verifier = dkim.DKIM(raw, minkey=1024)
    except Exception as exc:
        # dkimpy refuses header blocks with lines that are neither a field nor a
        # continuation. The signatures are still reported, none of them can be checked.
        return _unparsable(raw, f"message header cannot be parsed: {_clean(exc)}", max_signatures)
    signatures = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"]
    keys: dict[str, tuple[bytes, ...] | DnsTempError] = {}  # one lookup per key name
    results = []
    for idx, value in enumerate(signatures[:max_signatures]):
        try:
            results.append(_verify_one(verifier, idx, value, dns, deadline, keys))
        except Exception as exc:
            # Not expected (dkimpy's own errors are handled in _verify_one); the message
            # must still be scanned, and an unverifiable signature is never a pass.
            log.warning("DKIM verification of signature %d failed", idx, exc_info=True)
            domain, selector, identity = _lenient_tags(value)
            results.append(
                DkimResult(
                    "permerror", domain, selector, f"verifier error: {_clean(exc)}", identity
                )
            )
    if len(signatures) > max_signatures:
        results.append(_over_limit(len(signatures), max_signatures))
    return tuple(results)


def _verify_one(
    verifier: dkim.DKIM,
    idx: int,
    value: bytes,
    client: DnsClient,
    deadline: float | None,
    keys: dict[str, tuple[bytes, ...] | DnsTempError],
) -> DkimResult:
    domain, selector, identity = _lenient_tags(value)

    def result(outcome: str, reason: str = "") -> DkimResult:
        return DkimResult(outcome, domain, selector, reason, identity)

    # 1. The signature itself (RFC 6376 6.1.1): tag syntax, required tags, i= within d=,
    #    t= and x=, all checked by dkimpy.
    try:
        prepared = verifier.verify_headerprep(idx)
    except (dkim.DKIMException, InvalidTagValueList) as exc:
        return result("permerror", _describe(exc))
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        # dkimpy 1.1.8 indexes past the end of an i= shorter than d= (IndexError).
        return result("permerror", f"malformed signature ({_clean(exc)})")
    if not prepared:
        return result("permerror", "signature not found")
    sig, include_headers, sig_headers = prepared
    # From here on the tags as dkimpy read them: the d= reported (and aligned by DMARC)
    # is exactly the one whose key verified the signature.
    domain = _text(sig[b"d"]).lower()
    selector = _text(sig[b"s"])
    identity = _text(sig.get(b"i", b""))
    if b"from" not in include_headers:
        return result("permerror", "From field not signed")
    if not re.fullmatch(rb"\d{1,76}", sig.get(b"l", b"0")):
        return result("permerror", "l= is not a number")
    algorithm = sig[b"a"]
    if algorithm == b"rsa-sha1":
        return result("permerror", "rsa-sha1 is not accepted (RFC 8301)")
    if algorithm == b"ed25519-sha256" and not ED25519_SUPPORTED:
        return result("neutral", "ed25519-sha256 not supported here (pynacl not installed)")
    try:
        CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
    except InvalidCanonicalizationPolicyError as exc:
        return result("permerror", f"invalid c= value {_clean(exc)}")

    # 2. The key (RFC 6376 6.1.2).
    try:
        name = dns_name((sig[b"s"] + b"._domainkey." + sig[b"d"]).decode("utf-8")).to_text(
            omit_final_dot=True
        )
    except (UnicodeDecodeError, DNSException) as exc:
        return result("permerror", f"no valid key name from s= and d= ({_clean(exc)})")
    records = keys.get(name)
    if records is None:
        try:
            records = client.txt(name, deadline)
        except DnsTempError as exc:
            records = exc
        keys[name] = records
    if isinstance(records, DnsTempError):
        return result("temperror", f"key lookup failed: {_clean(records)}")
    if not records:
        return result("permerror", f"no key at {name}")
    key, problem = _choose_key(name, records, sig)
    if key is None:
        if problem.startswith("neutral:"):
            return result("neutral", problem.removeprefix("neutral:"))
        return result("permerror", problem)

    # 3. The hashes and the signature (RFC 6376 6.1.3).
    def dnsfunc(_name: bytes | str, timeout: float = 5) -> bytes:
        return key

    try:
        # verify_sig, not verify: verify would run verify_headerprep a second time
        # (about a tenth of a message's whole authentication).
        verified = verifier.verify_sig(sig, include_headers, sig_headers[idx], dnsfunc)
    except dkim.ValidationError as exc:
        text = _clean(exc)
        if text.startswith("body hash mismatch"):
            return result("fail", "body hash mismatch")
        return result("permerror", text)
    except (dkim.DKIMException, InvalidTagValueList, ValueError, TypeError) as exc:
        # KeyFormatError here means a key under 1024 bits (RFC 8301 3.2) or one that
        # does not fit the digest; MessageFormatError a bad c= or b=; ValueError an
        # empty l= or undecodable base64.
        return result("permerror", _clean(exc))
    if not verified:
        return result("fail", "signature did not verify")
    unsigned = _unsigned_body_bytes(verifier, sig)
    if unsigned:
        return result("policy", f"l= leaves {unsigned} body bytes unsigned")
    if b"y" in _key_flags(key):
        return result("pass", "key in testing mode (t=y)")
    return result("pass")


def _choose_key(
    name: str, records: tuple[bytes, ...], sig: dict[bytes, bytes]
) -> tuple[bytes | None, str]:
    """The first usable key record, or (None, why none is). RFC 6376 3.6.2.2 leaves the
    choice among several records to the verifier."""
    problems = []
    for record in records:
        problem = _key_problem(name, record, sig)
        if not problem:
            return record, ""
        problems.append(problem)
    return None, problems[0]


def _key_problem(name: str, record: bytes, sig: dict[bytes, bytes]) -> str:
    """Why this key record cannot verify this signature; "" when it can (RFC 6376 3.6.1)."""
    try:
        tags = parse_tag_value(record)
    except InvalidTagValueList as exc:
        return f"bad key record at {name}: {_clean(exc)}"
    if tags.get(b"v", b"DKIM1") != b"DKIM1":
        return f"bad key record at {name}: v= is not DKIM1"
    if b"p" not in tags:
        return f"bad key record at {name}: no p="
    if not re.sub(rb"\s+", b"", tags[b"p"]):
        return "key revoked (empty p=)"
    key_type = tags.get(b"k", b"rsa")
    sig_type = sig[b"a"].partition(b"-")[0]
    if key_type != sig_type:
        return f"key type {_text(key_type)} does not match a={_text(sig[b'a'])}"
    if b"h" in tags:
        accepted = {h.strip() for h in tags[b"h"].split(b":")}
        if sig[b"a"].partition(b"-")[2] not in accepted:
            return f"a={_text(sig[b'a'])} not allowed by the key's h="
    if b"s" in _key_flags(record):
        # t=s: the i= domain must be d= itself, not a subdomain (RFC 6376 3.6.1).
        i_domain = sig.get(b"i", b"@" + sig[b"d"]).rpartition(b"@")[2]
        if i_domain.lower() != sig[b"d"].lower():
            return "key flag t=s forbids a subdomain in i="
    return _key_parse_problem(name, record)


@functools.lru_cache(maxsize=256)
def _key_parse_problem(name: str, record: bytes) -> str:
    """Why dkimpy cannot read this key record; "" when it can. Remembered: the same key
    signs message after message, and reading it (ASN.1) costs as much as a hash."""
    try:
        dkim.evaluate_pk(name, record)
    except dkim.NaClNotFoundError:
        return "neutral:ed25519 key not supported here (pynacl not installed)"
    except (dkim.DKIMException, InvalidTagValueList, ValueError) as exc:
        return f"bad key record at {name}: {_clean(exc)}"
    return ""


def _key_flags(record: bytes) -> set[bytes]:
    try:
        flags = parse_tag_value(record).get(b"t", b"")
    except InvalidTagValueList:
        return set()
    return {flag.strip() for flag in flags.split(b":")}


def _unsigned_body_bytes(verifier: dkim.DKIM, sig: dict[bytes, bytes]) -> int:
    """How much of the canonical body is after the l= limit (0 without l=)."""
    if b"l" not in sig:
        return 0
    policy = CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
    body = policy.canonicalize_body(verifier.body)
    return max(0, len(body) - int(sig[b"l"]))


_TAG = {name: re.compile(rb"(?:^|;)\s*" + name + rb"\s*=\s*([^;]*)") for name in (b"d", b"s", b"i")}


def _lenient_tags(value: bytes) -> tuple[str, str, str]:
    """d=, s= and i= as far as they can be read, for the report of any signature."""
    unfolded = re.sub(rb"\s+", b" ", value)
    found = []
    for name in (b"d", b"s", b"i"):
        match = _TAG[name].search(unfolded)
        found.append(_text(re.sub(rb"\s", b"", match.group(1))) if match else "")
    return found[0].lower(), found[1], found[2]


def _unparsable(raw: bytes, reason: str, max_signatures: int) -> tuple[DkimResult, ...]:
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw
    values = []
    for field in re.split(rb"\r?\n(?![ \t])", head):
        name, colon, value = field.partition(b":")
        if colon and name.strip().lower() == b"dkim-signature":
            values.append(value)
    results = []
    for value in values[:max_signatures]:
        domain, selector, identity = _lenient_tags(value)
        results.append(DkimResult("permerror", domain, selector, reason, identity))
    if len(values) > max_signatures:
        results.append(_over_limit(len(values), max_signatures))
    return tuple(results)


def _over_limit(count: int, limit: int) -> DkimResult:
    return DkimResult(
        "neutral", "", "", f"{count - limit} more signatures not verified (limit {limit})"
    )


def _describe(exc: Exception) -> str:
    """dkimpy's tag-list errors say only the offending tag; say what is wrong with it."""
    cause = exc.args[0] if isinstance(exc, dkim.MessageFormatError) and exc.args else exc
    if isinstance(cause, DuplicateTag):
        return f"malformed signature: duplicate tag {_clean(cause)}="
    if isinstance(cause, InvalidTagSpec):
        return f"malformed signature: bad tag {_clean(cause)!r}"
    return _clean(exc)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


_BYTES_REPR = re.compile(r"""\bb(['"])(.*?)\1""")


def _clean(exc: object) -> str:
    """An exception's message as one short line, without Python's b'...' reprs."""
    text = _BYTES_REPR.sub(r"\2", str(exc))
    text = safe_text(text, Fit.LINE, whitespace="collapse", limit=_REASON_LIMIT)
    return text or type(exc).__name__
