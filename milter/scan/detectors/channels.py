"""Contact and payment channels other than a wallet (issue 13): where an extortion mail
tells its victim to write or to pay.

- ``contact_channel``: a Telegram handle or t.me link, a WhatsApp link or a phone number
  named as WhatsApp, Signal or Telegram, a Session ID (66 hex digits from "05"). Values
  are canonical ("telegram:@name", "whatsapp:+31612345678", "session:05ab...").
- ``payment_channel``: gift cards (Steam, Apple/iTunes, Google Play, Amazon, Razer),
  Paysafecard and its 16-digit PINs, Western Union and MoneyGram with or without a
  control number.

A channel alone is never a scam: support pages, exchange receipts and shop mails name
them all. Rules combine it with the claims (rules/sextortion*.yml).

The texts are normalised (lower case, one space between words, confusables folded), so
the patterns are written for that form. Each is anchored on a literal word, so the
engine skips ahead to it; a text without any costs one search per pattern.
"""

from __future__ import annotations

import re
from typing import Final

from milter.scan.detectors.base import DetectorContext, Hit
from milter.scan.normalize import NormalizedText

__all__ = ["find_contact_channels", "find_payment_channels"]

# Telegram user names: 5-32 of [a-z0-9_], starting with a letter (core.telegram.org).
_TELEGRAM_LINK: Final = re.compile(
    r"\b(?:https?://)?(?:t\.me|telegram\.me)/([a-z][a-z0-9_]{4,31})\b"
)
_HANDLE: Final = r"@([a-z][a-z0-9_]{4,31})\b"
# "telegram: @name", "on telegram @name", "telegram (@name)": the word within a few words.
# Within one clause: "Follow @company. Our Telegram channel..." names no handle.
_TELEGRAM_HANDLE: Final = re.compile(r"\btelegram\b[^@\n.;!?]{0,40}?" + _HANDLE)
_HANDLE_TELEGRAM: Final = re.compile(_HANDLE + r"[^@\n.;!?]{0,20}?\btelegram\b")
_WHATSAPP_LINK: Final = re.compile(
    r"\b(?:https?://)?(?:wa\.me|api\.whatsapp\.com/send\?phone=)/?\+?(\d{8,15})\b"
)
# A phone number: + and 8-15 digits, spaces, dots, dashes or brackets between groups.
_PHONE: Final = r"(\+?\d[\d .()-]{6,20}\d)"
_APP_PHONE: Final = re.compile(r"\b(whatsapp|signal|telegram|viber)\b[^\d+\n]{0,30}" + _PHONE)
_PHONE_APP: Final = re.compile(_PHONE + r"[^\d\n]{0,30}?\b(whatsapp|signal|telegram|viber)\b")
# Session IDs: 66 hex characters starting 05 (an X25519 key with its prefix).
_SESSION: Final = re.compile(r"\b(05[0-9a-f]{64})\b")

_GIFT_CARD: Final = re.compile(
    r"\b(steam|apple|itunes|google play|amazon|razer gold|xbox|playstation|psn|netflix"
    r"|ebay|vanilla|visa|transcash|neosurf|pcs)\b[ -]?(?:gift ?cards?|cards?|vouchers?"
    r"|cartes? cadeaux?|carte prépayée|tarjetas? (?:de )?regalo|cartões? presente"
    r"|gutscheine?|geschenkkarten?|tegoedbon|cadeaukaarten?|buoni regalo|carte regalo"
    r"|karty podarunkowe|kody)\b"
)
# Romance and Slavic word order: the card, then the brand ("cartes cadeaux Apple").
_CARD_GIFT: Final = re.compile(
    r"\b(?:cartes? cadeaux?|tarjetas? (?:de )?regalo|cartões? (?:de )?presente|carte regalo"
    r"|buoni regalo|karty podarunkowe|karta podarunkowa|dárkov[éá] karty?)"
    r"(?: de| da| di)? (steam|apple|itunes|google play|amazon|razer gold|xbox|playstation"
    r"|psn|netflix)\b"
)
_PAYSAFE: Final = re.compile(r"\bpaysafe ?cards?\b|\bpaysafe\b")
# A Paysafecard PIN: 16 digits, often in groups of four.
_PIN: Final = re.compile(r"(?<![\d-])(\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4})(?![\d-])")
_TRANSFER: Final = re.compile(r"\b(western union|moneygram|ria money transfer|worldremit)\b")
# A Western Union MTCN has 10 digits, a MoneyGram reference number 8.
_MTCN: Final = re.compile(r"\b(?:mtcn|reference number|control number)\b\D{0,20}(\d{8}|\d{10})\b")
_PIN_REACH: Final = 200
# Words one of the gift-card or transfer patterns needs: a quick test before them.
_CARD_WORD: Final = re.compile(
    r"card|voucher|carte|cartõ|cartão|tarjeta|gutschein|geschenkkarte|tegoedbon|cadeaukaart"
    r"|buoni|regalo|karty|karta|kody|dárkov"
)
_TRANSFER_WORD: Final = re.compile(
    r"moneygram|ria money|worldremit|mtcn|reference number|control number"
)


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def find_contact_channels(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    text = normalized.text
    hits: list[Hit] = []
    # Each pattern runs only where its literal is: most texts hold none, and a pattern
    # that starts with a digit or "@" would otherwise be tried at every one of them.
    telegram = "telegram" in text
    if telegram or "t.me/" in text or "telegram.me/" in text:
        for pattern in (_TELEGRAM_LINK, _TELEGRAM_HANDLE, _HANDLE_TELEGRAM):
            for match in pattern.finditer(text):
                hits.append(Hit(*match.span(), f"telegram:@{match[1]}", cased=False))
    if "wa.me/" in text or "api.whatsapp.com" in text:
        for match in _WHATSAPP_LINK.finditer(text):
            hits.append(Hit(*match.span(), f"whatsapp:+{match[1]}", cased=False))
    if telegram or any(app in text for app in ("whatsapp", "signal", "viber")):
        for pattern, app_group, phone_group in ((_APP_PHONE, 1, 2), (_PHONE_APP, 2, 1)):
            for match in pattern.finditer(text):
                digits = _digits(match[phone_group])
                if 8 <= len(digits) <= 15:
                    value = f"{match[app_group]}:+{digits}"
                    hits.append(Hit(*match.span(), value, cased=False))
    if "05" in text:
        for match in _SESSION.finditer(text):
            hits.append(Hit(*match.span(), f"session:{match[1]}", cased=False))
    return _unique(hits)


def find_payment_channels(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    text = normalized.text
    hits: list[Hit] = []
    if _CARD_WORD.search(text):
        for pattern in (_GIFT_CARD, _CARD_GIFT):
            for match in pattern.finditer(text):
                hits.append(Hit(*match.span(), f"gift card:{match[1]}", cased=False))
    if "paysafe" not in text and "western union" not in text and not _TRANSFER_WORD.search(text):
        return _unique(hits)
    for match in _PAYSAFE.finditer(text):
        hits.append(Hit(*match.span(), "paysafecard", cased=False))
        # PINs near the word (a PIN alone is any 16-digit number: a card, an IBAN part).
        window = text[match.end() : match.end() + _PIN_REACH]
        for pin in _PIN.finditer(window):
            start = match.end() + pin.start()
            hits.append(
                Hit(start, start + len(pin[1]), f"paysafecard pin:{_digits(pin[1])}", False)
            )
    for match in _TRANSFER.finditer(text):
        hits.append(Hit(*match.span(), f"money transfer:{match[1]}", cased=False))
    for match in _MTCN.finditer(text):
        hits.append(Hit(*match.span(), f"transfer number:{match[1]}", cased=False))
    return _unique(hits)


def _unique(hits: list[Hit]) -> list[Hit]:
    """One hit per value, the first; in text order."""
    seen: dict[str, Hit] = {}
    for hit in sorted(hits, key=lambda h: h.start):
        seen.setdefault(hit.value, hit)
    return list(seen.values())
