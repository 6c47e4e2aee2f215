"""What the milter answers at the end of a message, as packets (issue 14), without I/O.

The proxy rewrites the message it relays (service/proxy.py); a milter cannot, it asks the
MTA for header edits. The same rules hold:

- every field of ours that came from outside is removed (our prefix, our names, an
  Authentication-Results under our authserv-id: only we may write those, RFC 8601 5);
- our Authentication-Results goes on top, as trace fields do;
- a tag adds the X-Scam-* fields and the Subject prefix;
- then the final reply: accept (continue), discard (the message is held: the caller has
  stored it first), a 5xx for a reject, TEMPFAIL for any failure.

Header edits name a field by its name and its occurrence (1 for the first "Subject"),
counted over the fields as the MTA passed them; an empty value removes it. With
SMFIP_HDR_LEADSPC negotiated (session.py asks for it, to rebuild the message exactly)
the MTA takes values as they are, so the values sent start with their space.
"""

from __future__ import annotations

from collections.abc import Sequence

from milter.auth.results import authserv_id_of
from milter.mail.headers import HeaderNames
from milter.milterproto import packets as p
from milter.scan.verdict import Action, Verdict

REJECT_TEXT = "5.7.1 Message refused: it looks like an extortion or impersonation scam"


def removals(
    headers: Sequence[tuple[str, str]], names: HeaderNames, authserv_id: str
) -> list[bytes]:
    """Packets that remove our fields which came from outside, last first (so that the
    occurrence numbers of the ones before stay right)."""
    ours = {name.lower() for name in names.all()}
    prefix = names.prefix.lower()
    wanted = authserv_id.lower()
    seen: dict[str, int] = {}
    remove: list[tuple[str, int]] = []
    for name, value in headers:
        lower = name.lower()
        seen[lower] = seen.get(lower, 0) + 1
        if lower in ours or (prefix and lower.startswith(prefix)):
            remove.append((name, seen[lower]))
        elif lower == "authentication-results":
            found = authserv_id_of(value)
            if (found.lower() == wanted) if found is not None else wanted in value.lower():
                remove.append((name, seen[lower]))
    return [p.change_header(index, name, "") for name, index in reversed(remove)]


def end_of_message(
    headers: Sequence[tuple[str, str]],
    verdict: Verdict,
    action: Action,
    names: HeaderNames,
    authserv_id: str,
    auth_results: str | None,
    subject_prefix: str = "",
    *,
    leading_space: bool = True,
) -> list[bytes]:
    """The packets for a message that is accepted or tagged (edits, then continue), or
    rejected (a 5xx). A held message is answered by the caller, after storing it."""
    if action is Action.REJECT:
        return [p.reply_code(550, REJECT_TEXT)]
    space = " " if leading_space else ""
    out = removals(headers, names, authserv_id)
    if auth_results is not None:
        out.append(p.insert_header(0, "Authentication-Results", space + auth_results))
    if action is Action.TAG:
        rules = ", ".join(hit.id for hit in verdict.rules) or "none"
        out.append(p.add_header(names.verdict, space + action.value))
        out.append(p.add_header(names.score, f"{space}{verdict.score:g}"))
        out.append(p.add_header(names.rules, space + rules))
        if subject_prefix:
            out.extend(_prefix_subject(headers, subject_prefix, space))
    out.append(p.continue_())
    return out


def _prefix_subject(headers: Sequence[tuple[str, str]], prefix: str, space: str) -> list[bytes]:
    for name, value in headers:
        if name.lower() == "subject":
            rest = value.lstrip(" \t")
            if rest.startswith(prefix):
                return []  # already marked: a re-scan must not stack prefixes
            return [p.change_header(1, name, space + prefix + rest)]
    return [p.add_header("Subject", space + prefix.strip())]
