"""No scan limit is an evasion (issue 10, item 3).

The same scam, which the shipped rules hold on its own, is put past each limit: behind
megabytes of hidden HTML or blank lines, nested 31 deep, after hundreds of MIME parts,
behind blank PDF pages, in a PDF padded past the size limit. It must still be held, the
padding or structure must be scored as such, and a verdict on a message that was not
read whole must say so and never be accepted. Big ordinary mail must not be marked for
its size.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from milter.config import shipped_rules_dir
from milter.mail.view import ViewLimits
from milter.scan.scanner import Scanner, ScanSettings
from milter.scan.verdict import PARTIAL_READ_RULE, Action, Thresholds, Verdict
from tests.helpers.limit_cases import (
    SCAM,
    after_blank_lines,
    after_hidden_html,
    after_parts,
    build_pdf,
    html,
    nested,
    plain,
    with_pdf,
)

STRUCTURE_RULE = "STRUCTURE_NO_CLIENT_BUILDS"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()])


def ids(verdict: Verdict) -> set[str]:
    return {hit.id for hit in verdict.rules}


def evidence(verdict: Verdict, rule: str) -> tuple[str, ...]:
    return next(hit.evidence for hit in verdict.rules if hit.id == rule)


def test_the_scam_alone_is_held_and_read_whole(scanner: Scanner) -> None:
    verdict = scanner.scan(plain(SCAM))
    assert verdict.action.held
    assert verdict.partial == ()
    assert not ids(verdict) & {PARTIAL_READ_RULE, STRUCTURE_RULE}


# --- (a) padding in front of the text -------------------------------------------------


@pytest.mark.parametrize("blocks", [1, 5_000], ids=["one-block", "many-blocks"])
def test_scam_after_two_megabytes_of_hidden_html_is_held(scanner: Scanner, blocks: int) -> None:
    verdict = scanner.scan(after_hidden_html(2_100_000, blocks=blocks))
    assert verdict.action.held
    # The hidden filler is scored as such, and the middle of the part was not read.
    assert "characters of hidden HTML text" in " ".join(evidence(verdict, STRUCTURE_RULE))
    assert len(verdict.partial) == 1
    assert "its middle not read" in verdict.partial[0]
    assert evidence(verdict, PARTIAL_READ_RULE) == verdict.partial


def test_scam_after_2_2_million_blank_lines_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(after_blank_lines(2_200_000))
    assert verdict.action.held
    # Blank lines cost nothing once squeezed: the part was read whole.
    assert verdict.partial == ()
    assert "blank characters of padding" in " ".join(evidence(verdict, STRUCTURE_RULE))


def test_scam_after_text_past_the_byte_limit_is_held(scanner: Scanner) -> None:
    # Over four bytes a character of the limit, the part is cut as bytes before it is
    # decoded: its end is kept all the same.
    small = Scanner(
        scanner.rules, replace(scanner.settings, limits=ViewLimits(max_text_chars=2_000))
    )
    verdict = small.scan(plain("Quarterly figures attached. " * 2_000 + "\r\n" + SCAM))
    assert verdict.action.held
    assert "its middle not read" in verdict.partial[0]


# --- (b) structure ----------------------------------------------------------------------


def test_scam_nested_31_deep_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(nested(31))
    assert verdict.action.held
    assert evidence(verdict, STRUCTURE_RULE) == ("MIME parts nested 31 deep",)
    assert verdict.partial == ()  # read flat, every part of it


def test_nesting_far_past_the_depth_limit_is_read_flat_without_recursion(
    scanner: Scanner,
) -> None:
    verdict = scanner.scan(nested(400))
    assert verdict.action.held
    assert any("read flat" in note for note in verdict.notes)


def test_scam_after_500_empty_parts_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(after_parts(500))
    assert verdict.action.held
    assert evidence(verdict, STRUCTURE_RULE) == ("500 empty MIME parts",)
    # Past max_parts the last parts are read: here that was all that was left.
    assert verdict.partial == ()


def test_scam_after_600_filled_parts_is_held_and_the_verdict_is_partial(
    scanner: Scanner,
) -> None:
    verdict = scanner.scan(after_parts(600, "Minutes of the meeting."))
    assert verdict.action.held
    assert STRUCTURE_RULE not in ids(verdict)  # full parts: not padding by themselves
    assert verdict.partial == (
        "82 MIME parts not read: more than 500 MIME parts (the last 20 read)",
    )
    assert PARTIAL_READ_RULE in ids(verdict)


# --- (c) and (d) PDFs -------------------------------------------------------------------


def test_scam_behind_ten_blank_pdf_pages_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(with_pdf(build_pdf([""] * 10 + [SCAM]), body=""))
    assert verdict.action.held
    assert verdict.partial == ()


def test_scam_behind_blank_pages_with_empty_content_streams_is_held(scanner: Scanner) -> None:
    blank = b"q 1 0 0 1 0 0 cm Q"  # a content stream that shows nothing
    pages = [blank] * 40 + [build_pdf_stream(SCAM)]
    verdict = scanner.scan(with_pdf(build_pdf([], content=pages), body=""))
    assert verdict.action.held


def build_pdf_stream(text: str) -> bytes:
    escaped = text.replace("(", "\\(").replace(")", "\\)")
    return f"BT /F1 11 Tf 50 780 Td ({escaped}) Tj ET".encode("latin-1")


def test_scam_on_the_last_page_of_a_long_pdf_is_held(scanner: Scanner) -> None:
    pages = [f"Annual report, chapter {n}. Figures and tables." for n in range(29)] + [SCAM]
    verdict = scanner.scan(with_pdf(build_pdf(pages), body=""))
    assert verdict.action.held
    # A long document whose first and last pages were read is no partial read.
    assert verdict.partial == ()
    assert any("its first and last pages read" in note for note in verdict.notes)


def test_scam_in_a_pdf_padded_past_the_size_limit_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(with_pdf(build_pdf([SCAM], unused=10_500_000), body=""))
    assert verdict.action.held
    assert evidence(verdict, STRUCTURE_RULE) == (
        "a PDF past the size limit, mostly bytes its pages do not use",
    )
    assert verdict.partial == ()


# --- a partial read is scored and never accepted ----------------------------------------


def harmless_but_long() -> bytes:
    # Over two million characters of words: nothing a rule looks for, nothing blank.
    return plain("The committee met on Tuesday and approved the budget. " * 40_000)


def test_a_partial_read_is_tagged_and_says_so(scanner: Scanner) -> None:
    verdict = scanner.scan(harmless_but_long())
    assert verdict.action is Action.TAG
    assert verdict.partial and "its middle not read" in verdict.partial[0]
    assert evidence(verdict, PARTIAL_READ_RULE) == verdict.partial
    assert verdict.score == 5.0


def test_a_partial_read_is_tagged_whatever_the_tag_threshold(scanner: Scanner) -> None:
    strict = Scanner(
        scanner.rules,
        ScanSettings(thresholds=Thresholds(tag=9, quarantine=20, reject=30)),
        scanner.identities,
    )
    assert strict.scan(harmless_but_long()).action is Action.TAG
    assert strict.scan(plain("The committee met on Tuesday.")).action is Action.ACCEPT


# --- big ordinary mail is not marked for its size ---------------------------------------


def test_a_big_pdf_invoice_is_accepted(scanner: Scanner) -> None:
    # 6 MB of scanned image on the page, and 12 MB (past the PDF size limit): bytes the
    # document uses, so neither padding nor a partial read.
    for size in (6_000_000, 12_000_000):
        invoice = build_pdf(["Invoice 2024-113. Total 1300 euro, due within 30 days."], image=size)
        verdict = scanner.scan(with_pdf(invoice, body="Your invoice is attached."))
        assert verdict.action is Action.ACCEPT, size
        assert verdict.partial == ()
        assert not ids(verdict)


def test_a_long_newsletter_is_accepted(scanner: Scanner) -> None:
    preheader = '<div style="display:none">This week: spring offers and new arrivals</div>'
    items = "".join(
        f'<tr><td style="padding:8px"><a href="https://shop.example/item/{n}">'
        f"Item {n}</a> now at a lower price.</td></tr>\n"
        for n in range(4_000)
    )
    verdict = scanner.scan(html(f"<html><body>{preheader}<table>{items}</table></body></html>"))
    assert verdict.action is Action.ACCEPT
    assert verdict.partial == ()
    assert not ids(verdict)


def test_a_long_ordinary_text_with_crlf_paragraphs_is_not_padding(scanner: Scanner) -> None:
    # 110,000 CRLF paragraph breaks: the squeeze writes each as "\n\n", dropping 2 CRs,
    # 220,000 characters in all. Those CRs are line ends, not padding (a real report
    # sent as text once scored STRUCTURE_NO_CLIENT_BUILDS and was held).
    para = "This is an ordinary paragraph of a long report, nothing hidden in it.\r\n\r\n"
    raw = (
        "From: a@example.org\r\nTo: b@example.net\r\nSubject: report\r\n"
        "Content-Type: text/plain\r\n\r\n" + para * 110_000
    ).encode()
    verdict = scanner.scan(raw)
    assert STRUCTURE_RULE not in ids(verdict)
    assert not verdict.action.held
