"""HTML rendering: the stdlib html.parser path against selectolax's Lexbor parser.

    python bench/html_parse.py [--corpus DIR] [--rounds N] [--table-mb MB]

Issue 11 asked whether a fast spec-compliant parser should replace html.parser under
the renderer of milter/mail/html.py. This script answers with figures, in one run:

  - time: html_to_text (stdlib) against the Lexbor prototype below on every text/html
    part of the ham folders of the corpus, and on a generated table mail (a newsletter
    shape: one row per item, styled cells, a hidden preheader), best of N, turns
    alternating;
  - behaviour: how many parts render differently (visible, hidden or URLs), with the
    first differences shown;
  - bounds: the time of each path on deeply nested blocks. The renderer caps the depth
    it tracks (MAX_DEPTH); Lexbor builds the whole tree, and its time grows with the
    square of the depth (each block start looks for an open <p> down the stack), so
    the 100,000-deep input of tests/mail/test_html_text.py takes it over 10 seconds.

The prototype parses with Lexbor and walks its DOM depth first, feeding the existing
renderer the events html.parser would have given it (start tag with attributes, text,
end tag), so that every rule about hidden text is the same code; only the tree building
differs (Lexbor follows the HTML standard's, the renderer imitates a part of it). It
uses the renderer's private class on purpose: it is a measurement, not a second path.
It was not adopted (issue 11): see the commit that added this script for the figures.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from milter.mail.html import MAX_HTML_CHARS, HtmlText, _Renderer, html_to_text  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
_TEXT = "-text"  # selectolax's tag name for text nodes
_RAW_TEXT = frozenset(("noscript", "iframe", "noembed", "noframes", "xmp"))


def lexbor_to_text(html: str) -> HtmlText:
    """The prototype: Lexbor's DOM walked into the stdlib path's renderer."""
    renderer = _Renderer()
    root = LexborHTMLParser(html[:MAX_HTML_CHARS]).root
    if root is None:
        return renderer.result()
    # (node, entering): an element is visited once on the way down and once on the way up.
    stack = [(root, True)]
    while stack:
        node, entering = stack.pop()
        tag = node.tag
        if tag == _TEXT:
            renderer.handle_data(node.text_content or "")
        elif not node.is_element_node:
            continue  # comments, doctype
        elif entering:
            renderer.handle_starttag(tag, list(node.attributes.items()))
            stack.append((node, False))
            children = list(node.iter(include_text=True))
            if tag in _RAW_TEXT:
                # Lexbor keeps the content of these as one text node, as the HTML
                # standard says (and <noscript> too: it parses as a browser that runs
                # scripts); html.parser reads it as markup. Read it as markup here too.
                fragment = LexborHTMLParser(node.text(deep=True), is_fragment=True).root
                children = list(fragment.iter(include_text=True)) if fragment else []
            stack.extend((child, True) for child in reversed(children))
        else:
            renderer.handle_endtag(tag)
    return renderer.result()


def ham_html_parts(corpus: Path) -> list[str]:
    parts: list[str] = []
    for folder in sorted(corpus.iterdir()):
        if not folder.name.startswith("ham"):
            continue
        for file in sorted(folder.rglob("*")):
            if not file.is_file():
                continue
            message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
            for part in message.walk():
                if part.get_content_type() == "text/html":
                    try:
                        parts.append(part.get_content())
                    except (LookupError, ValueError):
                        continue  # an unknown charset: no text for either path
    return parts


def table_mail(megabytes: float) -> str:
    """A newsletter-shaped HTML body of about ``megabytes``: nested layout tables, one
    row per item with styled cells and links, a hidden preheader."""
    head = (
        "<html><head><style>td{font-family:Arial}</style></head>"
        '<body bgcolor="#ffffff"><div style="display:none;max-height:0;overflow:hidden">'
        "Preheader text the reader never sees</div>"
        '<table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
        '<table width="600" style="background-color:#f4f4f4">'
    )
    row = (
        '<tr><td style="padding:8px;border-bottom:1px solid #ddd">'
        '<a href="https://shop.example/item/{n}" style="color:#1a0dab">Item {n}</a></td>'
        '<td style="font-size:13px;color:#333333">A description of item {n}, with '
        "<b>bold</b> words &amp; an entity.</td>"
        '<td align="right"><span style="color:#111">{n}.99&nbsp;EUR</span></td></tr>\n'
    )
    tail = "</table></td></tr></table><p>Unsubscribe: https://shop.example/u</p></body></html>"
    rows: list[str] = []
    size = len(head) + len(tail)
    n = 0
    while size < megabytes * 1_000_000:
        rows.append(row.format(n=n))
        size += len(rows[-1])
        n += 1
    return head + "".join(rows) + tail


def best_of(
    paths: dict[str, Callable[[str], HtmlText]], inputs: list[str], rounds: int
) -> dict[str, float]:
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(rounds):  # turns alternate, so that load on the machine hits both
        for name, render in paths.items():
            start = time.perf_counter()
            for html in inputs:
                render(html)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def parse_only(html: str) -> HtmlText:
    """Lexbor's parse alone, without the walk: the figure issue 11 quoted."""
    LexborHTMLParser(html[:MAX_HTML_CHARS])
    return HtmlText(visible="", hidden="", urls=())


def report_times(label: str, best: dict[str, float]) -> None:
    stdlib, lexbor = best["stdlib"] * 1000, best["lexbor"] * 1000
    parse = f"  (parse alone {best['parse'] * 1000:.1f} ms)" if "parse" in best else ""
    print(
        f"{label:28} stdlib {stdlib:8.1f} ms  lexbor {lexbor:8.1f} ms"
        f"  x{stdlib / lexbor:.2f}{parse}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--table-mb", type=float, default=1.1)
    parser.add_argument("--show", type=int, default=5, help="differences to print")
    args = parser.parse_args()
    paths = {"stdlib": html_to_text, "lexbor": lexbor_to_text, "parse": parse_only}

    parts = ham_html_parts(args.corpus)
    table = table_mail(args.table_mb)
    print(f"ham: {len(parts)} text/html parts, {sum(map(len, parts)):,} characters")
    report_times("ham html parts", best_of(paths, parts, args.rounds))
    report_times(f"table mail {len(table) / 1e6:.2f} MB", best_of(paths, [table], args.rounds))

    differ = [
        (i, html) for i, html in enumerate(parts) if html_to_text(html) != lexbor_to_text(html)
    ]
    print(f"ham parts rendered differently: {len(differ)} of {len(parts)}")
    for index, html in differ[: args.show]:
        old, new = html_to_text(html), lexbor_to_text(html)
        if old.urls != new.urls:
            gone, extra = set(old.urls) - set(new.urls), set(new.urls) - set(old.urls)
            print(f"  part {index} urls: only stdlib {sorted(gone)[:3]}")
            print(f"  part {index} urls: only lexbor {sorted(extra)[:3]}")
        for name in ("visible", "hidden"):
            a, b = getattr(old, name), getattr(new, name)
            if a != b:
                at = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
                print(f"  part {index} {name} (length {len(a)} / {len(b)}) from character {at}:")
                print(f"    stdlib: {a[max(0, at - 30) : at + 50]!r}")
                print(f"    lexbor: {b[max(0, at - 30) : at + 50]!r}")
    same = html_to_text(table) == lexbor_to_text(table)
    print(f"table mail rendered the same: {same}")

    for depth in (10_000, 20_000, 40_000):
        nested = "<div>" * depth + "deep"
        both = {"stdlib": html_to_text, "lexbor": lexbor_to_text}
        report_times(f"<div> nested {depth:,} deep", best_of(both, [nested], 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
