"""Mail that forwards or quotes a scam (issue 13): a helpdesk ticket ("is this real?")
above a forwarded sextortion mail, an employee sending a fake summons on to IT with its
PDF. Such mail carries every word of the scam, so the rules hold it; what tells it apart
is what its sender wrote.

``author_view`` gives the message as its sender wrote it: the author's zones of its text
(mail/zones.py, html.py's quote containers), without the quoted and forwarded parts,
the attachments (in a forward they came with the forwarded mail), the images and a
reply's or forward's subject ("Fwd: Your device was hacked" repeats the scam's). The
scanner judges that view again when a held message has one; if the sender's own words
hold nothing, the message is tagged instead of held (QUOTED_SCAM_RULE says why).

When a message counts as a forward (``is_forward``):
- its sender is one of the organisation's own domains (``internal_domains``) and DMARC
  passes for it: colleagues forward scams to IT every day; or
- a clear forwarding frame: a reply or forward header of a mail client, an Outlook
  header block or an attached message, not just ">" lines, above which the sender wrote
  something ("Is this real?": a line of underscores is no comment, and scams dressed as
  a forward come with none), and DMARC does not fail.

A scammer can fake a forwarding frame; the issue accepts that such mail is tagged (still
marked for the reader) rather than held. Fake frames from a domain that fails DMARC are
not trusted.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Final

from milter.mail.html import find_urls
from milter.mail.view import MessageView
from milter.mail.zones import split_zones
from milter.scan.auth_view import AuthView

# The rule a forward carries when its sender's own words hold nothing: a tag.
QUOTED_SCAM_RULE = "SCAM_ONLY_QUOTED"
# "Re:", "Fwd:", "FW:", "TR:", "WG:", "AW:", "RV:", "Doorst:", "Enc:", "Rif:", "Odp:"...
_REPLY_SUBJECT: Final = re.compile(
    r"\s*(?:\[[^\]]{0,40}\]\s*)?(?:re|fwd?|tr|wg|aw|rv|sv|vs|antw|doorst|enc|res|rif|r|i|odp|pd)"
    r"\s*(?:\[\d+\])?\s*:",
    re.IGNORECASE,
)
# Letters the sender of a forward from outside must have written above it ("FYI" is
# not enough, "Is this real?" is).
MIN_COMMENT_LETTERS = 8


def author_view(view: MessageView) -> tuple[MessageView, bool] | None:
    """The message as its sender wrote it, and whether it has a clear forwarding frame
    (header, Outlook block or attached message, not only ">" lines); None when nothing
    in it is quoted or forwarded."""
    author: list[str] = []
    quoted = False
    text_attached, html_attached = view.attached_flags()
    framed = any(text_attached) or any(html_attached)
    texts = list(zip(view.text_parts, text_attached, strict=True))
    for part, attached in zip(view.html_parts, html_attached, strict=True):
        texts.append((part.author, attached))
        if part.quoted and not attached:
            quoted = framed = True
    for text, attached in texts:
        if attached:
            quoted = True
            continue
        zones = split_zones(text)
        if zones.quoted:
            quoted = True
            # Quoted by a header rather than only by "> " lines.
            framed = framed or not zones.quoted.lstrip().startswith(">")
        if zones.author.strip():
            author.append(zones.author)
    if not quoted:
        return None
    # A reply's or forward's subject repeats the scam's; any other is the sender's own.
    subject = "" if _REPLY_SUBJECT.match(view.subject) else view.subject
    own = replace(
        view,
        subject=subject,
        text_parts=tuple(author),
        html_parts=(),
        attachments=(),
        urls=tuple(dict.fromkeys(url for text in author for url in find_urls(text))),
        images=(),
        image_texts=(),
        text_attached=(),
        html_attached=(),
    )
    return own, framed


def is_forward(
    view: MessageView, framed: bool, auth: AuthView | None, internal_domains: tuple[str, ...]
) -> bool:
    """Whether a message with quoted parts counts as a forward (see the module text);
    ``view`` is its author_view."""
    dmarc = auth.dmarc.result if auth is not None and auth.dmarc is not None else "none"
    domain = view.from_domain
    internal = any(domain == d or domain.endswith("." + d) for d in internal_domains)
    if internal and dmarc == "pass":
        return True
    letters = sum(char.isalpha() for text in view.text_parts for char in text)
    return framed and dmarc != "fail" and letters >= MIN_COMMENT_LETTERS
