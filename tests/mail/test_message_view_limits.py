"""Reading past the view limits (issue 10): the end of what a limit skips is read, and
the view records the structure and what was left unread (structure.py)."""

from __future__ import annotations

from milter.mail.clip import head_and_tail, head_and_tail_bytes, squeeze, squeeze_bytes
from milter.mail.html import MAX_HTML_CHARS, html_to_text, start_at_tag
from milter.mail.view import TAIL_PARTS, ViewLimits, parse_message
from tests.helpers.limit_cases import after_hidden_html, after_parts, nested


def test_squeeze_collapses_blank_runs_only() -> None:
    assert squeeze("a\n\n\n\n \n\t\nb  c\td\ne") == "a\n\nb c\td\ne"
    assert squeeze_bytes(b"a\r\n\r\n\r\n\r\nb   c", "utf-8") == b"a\n\nb c"
    # In UTF-16 a space byte may be half of another character: left alone.
    data = "a\n\n\n\nb".encode("utf-16-le")
    assert squeeze_bytes(data, "UTF-16LE") == data


def test_head_and_tail_keep_both_ends() -> None:
    assert head_and_tail("abcdefghij", 4) == ("ab", "ij")
    assert head_and_tail("abc", 4) == ("abc", "")
    assert head_and_tail_bytes(b"abcdefghij", 4) == b"ab\nij"


def test_blank_lines_before_the_text_cost_nothing() -> None:
    raw = b"Content-Type: text/plain\n\nHello\n" + b"\n" * 500 + b"the end\n"
    view = parse_message(raw, limits=ViewLimits(max_text_chars=100))
    assert view.text_parts == ("Hello\n\nthe end\n",)
    assert view.structure.partial == ()
    assert view.structure.blank_padding >= 498


def test_an_over_long_text_keeps_its_start_and_end_and_says_so() -> None:
    raw = b"Content-Type: text/plain\n\nSTART " + b"filler " * 1_000 + b"END"
    view = parse_message(raw, limits=ViewLimits(max_text_chars=100))
    (text,) = view.text_parts
    assert text.startswith("START") and text.endswith("END")
    assert len(text) == 101  # the limit, and the line break between the two ends
    assert view.structure.partial == (
        "a text part of 7,009 bytes: its middle not read (over 100 characters)",
    )


def test_an_over_long_html_part_renders_its_end_visible() -> None:
    view = parse_message(after_hidden_html(5_000), limits=ViewLimits(max_text_chars=1_000))
    (part,) = view.html_parts
    assert "Pay 1300 euro" in part.visible
    assert "account invoice" in part.hidden
    assert view.structure.hidden_chars == len(part.hidden)
    assert view.structure.partial


def test_html_past_its_own_cap_renders_start_and_end() -> None:
    page = "<p>Start</p>" + "<div>" + "x" * MAX_HTML_CHARS + "</div><p>End of letter</p>"
    rendered = html_to_text(page)
    assert rendered.visible.startswith("Start")
    assert rendered.visible.endswith("End of letter")
    assert start_at_tag('le="x">tail</b><p>text') == "</b><p>text"


def test_the_last_parts_are_read_past_max_parts() -> None:
    view = parse_message(after_parts(100, "filler"), limits=ViewLimits(max_parts=10))
    # The container and nine parts in order, then the last TAIL_PARTS.
    assert len(view.text_parts) == 9 + TAIL_PARTS
    assert view.text_parts[-1].startswith("I hacked your computer")
    structure = view.structure
    assert structure.parts == 102
    assert structure.partial == (
        f"{101 - 9 - TAIL_PARTS} MIME parts not read: more than 10 MIME parts "
        f"(the last {TAIL_PARTS} read)",
    )


def test_empty_parts_are_counted_once_whether_read_in_order_or_at_the_end() -> None:
    view = parse_message(after_parts(60), limits=ViewLimits(max_parts=30))
    assert view.structure.empty_parts == 60
    assert view.structure.partial == (
        f"{61 - 29 - TAIL_PARTS} MIME parts not read: more than 30 MIME parts "
        f"(the last {TAIL_PARTS} read)",
    )


def test_parts_past_max_depth_are_read_flat() -> None:
    view = parse_message(nested(40), limits=ViewLimits(max_depth=5))
    assert view.text_parts[0].startswith("I hacked your computer")
    assert view.structure.depth == 40
    assert view.structure.partial == ()
    assert any("read flat" in defect for defect in view.defects)


def test_an_ordinary_message_has_ordinary_structure() -> None:
    raw = (
        b'Content-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\nHello\n"
        b'--a\nContent-Type: text/html\n\n<div style="display:none">preheader</div><p>Hello</p>\n'
        b"--a--\n"
    )
    structure = parse_message(raw).structure
    assert (structure.parts, structure.depth, structure.empty_parts) == (3, 1, 0)
    assert (structure.hidden_chars, structure.blank_padding, structure.partial) == (9, 0, ())
