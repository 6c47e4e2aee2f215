"""The zones of one text: what its author wrote, what it quotes, and its footer (issue 13).

Mail that talks about a scam quotes it: a helpdesk ticket forwarding a sextortion mail
("is this real?"), an employee sending a fake summons on to IT, a newsletter quoting a
scam sentence. Rules must be able to tell the author's own words from the words quoted,
and a footer ("No virus found", an unsubscribe line, a disclaimer) from either: a footer
never speaks for the author.

Pure and linear: lines in, three texts out. A text is read top down:

- the first reply or forward header starts the quoted zone, which runs to the end: the
  separators mail clients write ("-----Original Message-----", "Begin forwarded
  message:", "---------- Forwarded message ---------", their translations), a
  "On ... wrote:" line in each language, and an Outlook header block (From:/Sent:/To:/
  Subject: and their translations, Van:/Verzonden:, De:/Envoyé:, Von:/Gesendet: ...);
- above it, lines that start with ">" are quoted too (interleaved replies);
- the footer is what follows a signature separator ("-- "), or the last paragraphs of
  the author's text when they read as a footer (antivirus stamps, disclaimers,
  unsubscribe lines, "Sent from my phone").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Lines that start the quoted part of a reply or a forward, as mail clients write them.
_SEPARATOR: Final = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|ursprüngliche nachricht|oorspronkelijk bericht"
    r"|message d'origine|mensagem original|mensaje original|messaggio originale"
    r"|oryginalna wiadomość|původní zpráva|mesaj original|forwarded message"
    r"|weitergeleitete nachricht|doorgestuurd bericht|message transféré"
    r"|mensagem encaminhada|mensaje reenviado|messaggio inoltrato"
    r"|wiadomość przekazana|přeposlaná zpráva|mesaj redirecționat)\s*-{2,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:"
    r"|begin doorgestuurd bericht:|début du message réexpédié\s?:"
    r"|início da mensagem reencaminhada:|inicio del mensaje reenviado:"
    r"|inizio messaggio inoltrato:"
    r")\s*$",
    re.IGNORECASE,
)
# "On Mon, 3 Mar 2025 at 10:00, Alice <a@example.org> wrote:" and its translations
# (German and Dutch put the name after the verb); the line may wrap once.
_WROTE: Final = re.compile(
    r"^\s*(?:on|am|op|le|el|em|il|dnia|dne|pe|în)\b.{0,200}?"
    r"(?:wrote|schrieb|schreef|a écrit|escribió|escreveu|ha scritto|napisał\(a\)|napisał"
    r"|napsal\(a\)|napsal|a scris)(?:\s[^:]{0,160})?\s*:\s*$",
    re.IGNORECASE,
)
# The first line of an Outlook header block: "From:" and its translations...
_BLOCK_FROM: Final = re.compile(r"^\s*\*?(?:from|van|de|von|da|od|från|fra)\s*:\*?\s+\S", re.I)
# ... followed within a few lines by its date or subject line.
_BLOCK_NEXT: Final = re.compile(
    r"^\s*\*?(?:sent|date|verzonden|datum|envoyé|date|gesendet|enviado|enviada|inviato"
    r"|wysłano|data|odesláno|skickat|sendt|subject|onderwerp|objet|betreff|assunto"
    r"|asunto|oggetto|temat|předmět|ämne|emne)\s*:",
    re.IGNORECASE,
)
_BLOCK_REACH: Final = 4

_SIGNATURE: Final = re.compile(r"^--\s?$")
# What a footer paragraph says (the author's closing words are not a footer).
_FOOTER: Final = re.compile(
    r"unsubscribe|opt[- ]out|afmelden|uitschrijven|désinscri|se désabonner|abmelden"
    r"|newsletter abbestellen|cancelar (?:a )?(?:inscrição|subscrição|suscripción)"
    r"|darse de baja|disiscriv|wypisz się|odhlásit"
    r"|no (?:virus|viruses|malware|phishing|fraud)|virus[- ]free|antivir|\bavast\b|\bavg\b"
    r"|(?:fraud|phishing|virus|viruses) (?:detected|found)|(?:scanned|checked) (?:for|by)"
    r"|geen virus|kein virus|aucun virus|nenhum vírus|ningún virus|nessun virus"
    r"|confidential|vertrouwelijk|confidentiel|vertraulich|riservat|confidencial|poufn"
    r"|intended recipient|beoogde ontvanger|destinataire|empfänger|destinatário"
    r"|disclaimer|sent from my|verzonden (?:vanaf|met) mijn|envoyé de mon|von meinem"
    r"|enviado (?:do|desde) (?:meu|mi)|inviato da|wysłane z",
    re.IGNORECASE,
)
# Paragraphs at the end of the author's text looked at for a footer.
_FOOTER_PARAGRAPHS: Final = 3


@dataclass(frozen=True)
class Zones:
    author: str
    quoted: str
    footer: str


def split_zones(text: str) -> Zones:
    """The author's text, the quoted text and the footer of ``text`` (see above)."""
    if not text:
        return Zones("", "", "")
    lines = text.splitlines()
    start = _quote_start(lines)
    author: list[str] = []
    interleaved: list[str] = []
    for line in lines[:start]:
        (interleaved if line.lstrip().startswith(">") else author).append(line)
    author, footer = _footer(author)
    quoted = interleaved + lines[start:]
    if not quoted and not footer:
        # The whole text is the author's: the same string, so that what normalised it
        # for the body (scan/targets.py caches by text) serves author_text too.
        return Zones(text, "", "")
    return Zones("\n".join(author), "\n".join(quoted), "\n".join(footer))


def _quote_start(lines: list[str]) -> int:
    """The index of the line where the quoted part starts; len(lines) if none does."""
    last = len(lines) - 1
    for index, line in enumerate(lines):
        # Every header ends with ":" (on this line, or the next when "wrote:" wrapped)
        # or is a row of dashes: other lines, most of them, cost no regex.
        colon = ":" in line
        wrapped = index < last and ":" in lines[index + 1]
        if not line or len(line) > 300 or not (colon or wrapped or "--" in line):
            continue
        if _SEPARATOR.match(line) or (colon and _WROTE.match(line)):
            return index
        if wrapped and _WROTE.match(line + " " + lines[index + 1]):
            return index
        if _BLOCK_FROM.match(line) and any(
            _BLOCK_NEXT.match(after) for after in lines[index + 1 : index + 1 + _BLOCK_REACH]
        ):
            return index
    return len(lines)


def _footer(lines: list[str]) -> tuple[list[str], list[str]]:
    for index, line in enumerate(lines):
        if _SIGNATURE.match(line):
            # Footer paragraphs may stand above the signature too ("No virus found").
            author, above = _footer_paragraphs(lines[:index])
            return author, above + lines[index:]
    return _footer_paragraphs(lines)


def _footer_paragraphs(lines: list[str]) -> tuple[list[str], list[str]]:
    end = len(lines)
    cut = end
    for _ in range(_FOOTER_PARAGRAPHS):
        while cut > 0 and not lines[cut - 1].strip():
            cut -= 1
        start = cut
        while start > 0 and lines[start - 1].strip():
            start -= 1
        paragraph = " ".join(lines[start:cut])
        if start == 0 or not paragraph or not _FOOTER.search(paragraph):
            break
        cut = start
    if cut == end:
        return lines, []
    return lines[:cut], lines[cut:]
