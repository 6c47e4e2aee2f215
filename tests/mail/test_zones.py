"""The zones of a text (milter/mail/zones.py): the author's words, what they quote, and
the footer, for the forwards, replies and trailers mail clients write in each language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.mail.zones import split_zones

SCAM = "I recorded you with your webcam. Pay 1300 EUR in bitcoin within 48 hours."


@pytest.mark.parametrize(
    "header",
    [
        "-----Original Message-----",
        "---------- Forwarded message ---------",
        "-------- Doorgestuurd bericht --------",
        "-------- Message transféré --------",
        "-----Ursprüngliche Nachricht-----",
        "Begin forwarded message:",
        "Début du message réexpédié :",
        "On Mon, 3 Mar 2025 at 10:00, Alice <alice@example.org> wrote:",
        "Op ma 3 mrt. 2025 om 10:00 schreef Alice <alice@example.org>:",
        "Le lun. 3 mars 2025 à 10:00, Alice <alice@example.org> a écrit :",
        "Am Mo., 3. März 2025 um 10:00 Uhr schrieb Alice <alice@example.org>:",
        "Em seg., 3 de mar. de 2025 às 10:00, Alice <alice@example.org> escreveu:",
        "Il giorno lun 3 mar 2025 alle ore 10:00 Alice <alice@example.org> ha scritto:",
    ],
)
def test_a_forward_or_reply_header_starts_the_quoted_zone(header: str) -> None:
    text = f"Hi IT, is this real? Should I pay?\n\n{header}\n{SCAM}\n"
    zones = split_zones(text)
    assert zones.author.strip() == "Hi IT, is this real? Should I pay?"
    assert SCAM in zones.quoted and header.strip() in zones.quoted
    assert "Should I pay" not in zones.quoted


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("From: Anonymous <x@example.net>", "Sent: Monday, March 3, 2025 10:00"),
        ("Van: Anonymous <x@example.net>", "Verzonden: maandag 3 maart 2025 10:00"),
        ("De : Anonymous <x@example.net>", "Envoyé : lundi 3 mars 2025 10:00"),
        ("Von: Anonymous <x@example.net>", "Gesendet: Montag, 3. März 2025 10:00"),
        ("*From:* Anonymous <x@example.net>", "*Date:* Mon, 3 Mar 2025"),
    ],
)
def test_an_outlook_header_block_starts_the_quoted_zone(first: str, second: str) -> None:
    text = f"See below.\n\n{first}\n{second}\nTo: bob@example.org\nSubject: hi\n\n{SCAM}"
    zones = split_zones(text)
    assert zones.author.strip() == "See below."
    assert zones.quoted.startswith(first) and SCAM in zones.quoted


def test_a_from_line_alone_is_the_authors() -> None:
    # "From: ..." in running text, with no header block after it, is not a quote.
    text = "From: the desk of the director\nWe met last week.\n\nBest regards"
    assert split_zones(text).author == text


def test_interleaved_quote_lines_are_quoted() -> None:
    text = "> I recorded you\n> pay in bitcoin\nThis is spam, delete it.\n"
    zones = split_zones(text)
    assert zones.author.strip() == "This is spam, delete it."
    assert zones.quoted == "> I recorded you\n> pay in bitcoin"


@pytest.mark.parametrize(
    "footer",
    [
        "-- \nJan Jansen\nHelpdesk",
        "This email has been checked for viruses by Avast antivirus software.",
        "No virus, phishing or fraud detected.",
        "Deze e-mail is vertrouwelijk en uitsluitend bestemd voor de geadresseerde.",
        "Sent from my iPhone",
        "To unsubscribe from this newsletter, click here.",
    ],
)
def test_footers_are_their_own_zone(footer: str) -> None:
    zones = split_zones(f"{SCAM}\n\n{footer}\n")
    assert zones.author.strip() == SCAM
    assert zones.footer.strip() == footer.strip()


def test_a_scam_about_a_virus_keeps_its_last_paragraph() -> None:
    text = f"{SCAM}\n\nI infected your computer with a virus and a trojan."
    assert split_zones(text).author == text and split_zones(text).footer == ""


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_every_line_lands_in_exactly_one_zone(text: str) -> None:
    zones = split_zones(text)
    parts = [z for z in (zones.author, zones.quoted, zones.footer) if z]
    got = sorted(line for part in parts for line in part.splitlines())
    want = sorted(text.splitlines()) if text else []
    # Lines are kept whole and none is lost or doubled ("" zones add nothing).
    assert [line for line in got if line] == [line for line in want if line]
