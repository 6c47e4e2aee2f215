"""The texts each rule target names, normalised once per message.

A target (``body``, ``from.name``, ``header:x-mailer`` …) is a list of texts; a text that
several targets share (a body part is in ``body`` and ``text``) is normalised once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from milter.mail.html import find_urls
from milter.mail.view import MessageView
from milter.mail.zones import split_zones
from milter.scan.auth_view import AuthView
from milter.scan.identities.registry import letterhead, signature_block
from milter.scan.normalize import NormalizedText, normalize


class MessageTargets:
    """Lazily built, cached ``target name -> normalised texts`` for one message."""

    def __init__(self, view: MessageView, auth: AuthView | None = None) -> None:
        self.view = view
        self.auth = auth
        self._texts: dict[str, NormalizedText] = {}
        self._targets: dict[str, tuple[NormalizedText, ...]] = {}
        self._sources = _image_sources(view) if view.image_texts else {}
        self._zones: dict[str, tuple[str, ...]] | None = None

    def norm(self, text: str) -> NormalizedText:
        found = self._texts.get(text)
        if found is None:
            found = normalize(text, self._sources.get(text, ""))
            self._texts[text] = found
        return found

    def __call__(self, target: str) -> Sequence[NormalizedText]:
        found = self._targets.get(target)
        if found is None:
            raw = self.raw(target)
            found = tuple(self.norm(t) for t in raw if t)
            self._targets[target] = found
        return found

    def raw(self, target: str) -> tuple[str, ...]:
        """The original strings behind ``target``."""
        if target.startswith("header:"):
            return self.view.header(target[len("header:") :])
        if target.startswith("auth."):
            return _auth(self.auth, target[len("auth.") :])
        if target in ZONE_TARGETS:
            if self._zones is None:
                self._zones = _zones(self.view)
            return self._zones[target]
        getter = _RAW.get(target)
        return getter(self.view) if getter is not None else ()


def _body(view: MessageView) -> tuple[str, ...]:
    return (*view.text_parts, *(part.visible for part in view.html_parts))


ZONE_TARGETS = ("author_text", "quoted_text", "footer")


def _zones(view: MessageView) -> dict[str, tuple[str, ...]]:
    """The body split into what the sender wrote, what it quotes or forwards (quoted
    lines, reply and forward headers and what follows, attached messages) and its
    footers (mail/zones.py); built once per message, when a rule first asks."""
    author: list[str] = []
    quoted: list[str] = []
    footer: list[str] = []
    # HTML quotes in containers (<blockquote>, gmail_quote: html.py) as well as in text.
    html = [part.author for part in view.html_parts]
    quoted.extend(part.quoted for part in view.html_parts)
    text_attached, html_attached = view.attached_flags()
    texts = (
        *zip(view.text_parts, text_attached, strict=True),
        *zip(html, html_attached, strict=True),
    )
    for text, attached in texts:
        if attached:
            quoted.append(text)
            continue
        zones = split_zones(text)
        author.append(zones.author)
        quoted.append(zones.quoted)
        footer.append(zones.footer)
    return {
        "author_text": tuple(t for t in author if t),
        "quoted_text": tuple(t for t in quoted if t),
        "footer": tuple(t for t in footer if t),
    }


def _image_text(view: MessageView) -> tuple[str, ...]:
    """The text OCR read in the message's images (milter/ocr), empty before it ran, and
    the text of the QR codes and barcodes in them: a wallet or a link that is only in a
    code reaches the detectors as text."""
    return (
        *(image.text for image in view.image_texts if image.text),
        *_image_codes(view),
    )


def _image_codes(view: MessageView) -> tuple[str, ...]:
    return tuple(code for image in view.image_texts for code in image.codes)


def _urls(view: MessageView) -> tuple[str, ...]:
    """The links of the text and HTML, then those only a code in an image holds."""
    if not view.image_texts:
        return view.urls
    in_codes = (url for code in _image_codes(view) for url in find_urls(code))
    return tuple(dict.fromkeys((*view.urls, *in_codes)))


def _image_unread(view: MessageView) -> tuple[str, ...]:
    """One "name: why" line per image that was not read (too many, too big, a pixel
    bomb, broken, out of time), for rules that act on "image not read"."""
    return tuple(f"{image.name}: {image.note}" for image in view.image_texts if image.note)


def _attachment_text(view: MessageView) -> tuple[str, ...]:
    """The text of attachments: of documents as parsed, of images as OCR read it."""
    return (*(a.text for a in view.attachments), *_image_text(view))


def _image_sources(view: MessageView) -> dict[str, str]:
    """Each text read from an image, and the blocks cut from it, mapped to where it was
    read: evidence quoted from it names the image."""
    sources: dict[str, str] = {}
    for image in view.image_texts:
        for code in image.codes:
            sources.setdefault(code, f"code in image {image.name}")
        if image.text:
            where = f"image {image.name}"
            for text in (image.text, letterhead(image.text), signature_block(image.text)):
                if text:
                    sources.setdefault(text, where)
    return sources


def _letters(view: MessageView) -> tuple[str, ...]:
    """Every text that may be a letter: the body's parts, the attachments' text and the
    text of images (a letter sent as a scan)."""
    return (*_body(view), *_attachment_text(view))


def _signature(view: MessageView) -> tuple[str, ...]:
    """The closing lines of each text, where a letter is signed ("Commissaris-generaal
    ..."); quoted lines and list footers left out (identities.signature_block)."""
    return tuple(block for block in map(signature_block, _letters(view)) if block)


def _letterhead(view: MessageView) -> tuple[str, ...]:
    """The opening lines of each text, where a letter names its sender
    ("BUNDESKRIMINALAMT", "Federal Bureau of Investigation")."""
    return tuple(block for block in map(letterhead, _letters(view)) if block)


def _auth(auth: AuthView | None, which: str) -> tuple[str, ...]:
    """The result words of one method: ``unavailable`` when nothing was checked (offline,
    or authentication off), ``none`` when the method had nothing to check."""
    if auth is None:
        return ("unavailable",)
    if which == "dkim":
        return tuple(d.result for d in auth.dkim) or ("none",)
    result = auth.spf if which == "spf" else auth.dmarc if which == "dmarc" else None
    return (result.result,) if result is not None else ("none",)


def _envelope_rcpt(view: MessageView) -> tuple[str, ...]:
    return view.envelope.rcpt_to


def _envelope_from(view: MessageView) -> tuple[str, ...]:
    return (view.envelope.mail_from,) if view.envelope.mail_from else ()


_RAW: dict[str, Callable[[MessageView], tuple[str, ...]]] = {
    "subject": lambda v: (v.subject,),
    "body": _body,
    "html": lambda v: tuple(part.visible for part in v.html_parts),
    "html.hidden": lambda v: tuple(part.hidden for part in v.html_parts),
    "text": lambda v: (v.subject, *_letters(v)),
    "from.name": lambda v: (v.from_name,),
    "from.address": lambda v: (v.from_address,),
    "from.domain": lambda v: (v.from_domain,),
    "reply_to": lambda v: v.reply_to,
    "to": lambda v: v.to,
    "url": _urls,
    "link.masked": lambda v: tuple(m for part in v.html_parts for m in part.masked_links),
    "attachment.name": lambda v: tuple(a.filename for a in v.attachments),
    "attachment.type": lambda v: tuple(a.content_type for a in v.attachments),
    "attachment.text": _attachment_text,
    "image.text": _image_text,
    "image.unread": _image_unread,
    "image.code": _image_codes,
    "envelope.from": _envelope_from,
    "envelope.rcpt": _envelope_rcpt,
    "signature": _signature,
    "letterhead": _letterhead,
}
