"""HTML rendered to visible text, hidden text and URLs."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter.mail.html import HtmlText, find_urls, html_to_text

# (html, expected visible, expected hidden)
RENDER_CASES = [
    pytest.param(
        "<html><head><title>Title</title><style>p {color: red}</style></head>"
        "<body><p>Hello &amp; <b>world</b>&nbsp;!</p><script>var x = '<p>no</p>';</script>"
        "</body></html>",
        "Hello & world\xa0!",
        "",
        id="title-style-script-dropped-entities-decoded",
    ),
    pytest.param(
        "<div>one</div><div>two<br>three</div><p>four</p>five",
        "one\ntwo\nthree\nfour\nfive",
        "",
        id="blocks-and-br-are-lines",
    ),
    pytest.param(
        "<p>a   b\n\n c</p><pre>  x   y\n  z</pre>",
        "a b c\nx   y\nz",
        "",
        id="whitespace-collapsed-except-pre",
    ),
    pytest.param(
        "<!-- a comment --><p>x</p><!--[if mso]><p>outlook only</p><![endif]-->",
        "x",
        "",
        id="comments-dropped",
    ),
    pytest.param(
        '<p>shown</p><div style="display:none">padding words</div>',
        "shown",
        "padding words",
        id="display-none",
    ),
    pytest.param(
        '<p>shown</p><span style="visibility: hidden">v</span><span hidden>h</span>'
        '<span style="opacity:0">o</span>',
        "shown",
        "vho",
        id="visibility-hidden-attribute-opacity",
    ),
    pytest.param(
        '<span style="font-size:0">zero</span> <span style="font-size: 1px">one</span> '
        '<span style="font-size:0.5pt">half</span> <span style="font-size:12px">big</span>',
        "big",
        "zero one half",
        id="tiny-fonts",
    ),
    pytest.param(
        '<p style="color:#ffffff">white</p><p style="color:#fff">also</p>'
        '<font color="white">font</font><p>normal</p>',
        "normal",
        "white\nalso\nfont",
        id="white-on-default-white",
    ),
    pytest.param(
        '<div style="background-color:#f0f0f0"><span style="color:#eeeeee">near</span>'
        '<span style="color:#000">dark</span></div>',
        "dark",
        "near",
        id="nearly-background-colour",
    ),
    pytest.param(
        '<body bgcolor="#000000"><font color="#ffffff">light on dark</font>'
        '<font color="#010101">black on black</font></body>',
        "light on dark",
        "black on black",
        id="bgcolor-attribute",
    ),
    pytest.param(
        '<table bgcolor="black"><tr><td>no colour set: a style sheet may set it</td></tr></table>',
        "no colour set: a style sheet may set it",
        "",
        id="background-alone-is-not-judged",
    ),
    pytest.param(
        '<div style="background:url(bg.jpg)"><span style="color:white">on image</span></div>',
        "on image",
        "",
        id="background-image-colours-not-judged",
    ),
    pytest.param(
        '<div style="color:#fff"><span style="color:#333">visible again</span></div>',
        "visible again",
        "",
        id="colour-can-be-overridden",
    ),
    pytest.param(
        '<div style="display:none"><span style="color:#333;display:block">still</span></div>',
        "",
        "still",
        id="display-none-cannot-be-overridden",
    ),
    pytest.param(
        '<div style="width:0;height:0;overflow:hidden">box</div>'
        '<div style="max-height:0px; overflow:hidden">pre</div>'
        '<span style="position:absolute;left:-9999px">off</span><p>x</p>',
        "x",
        "box\npre\noff",
        id="zero-box-and-off-screen",
    ),
    pytest.param(
        'pay<span style="display:none">zz</span>ment <span hidden>a</span>b<span hidden>c</span>',
        "payment b",
        "zz a c",
        id="hidden-junk-inside-a-word",
    ),
    pytest.param(
        '<span style="mso-hide:all">outlook hidden</span>seen',
        "seen",
        "outlook hidden",
        id="mso-hide",
    ),
    pytest.param(
        '<p style="display:none">unclosed hidden<div>a div closes the p</div>',
        "a div closes the p",
        "unclosed hidden",
        id="implied-end-of-p",
    ),
    pytest.param(
        "<table><tr><td>a<td>b<tr><td>c</table>after",
        "a\nb\nc\nafter",
        "",
        id="implied-cell-and-row-ends",
    ),
    pytest.param("<ul><li>one<li>two</ul>", "one\ntwo", "", id="implied-li-end"),
    pytest.param(
        "<head><title>x</title><body><p>body without closing head</p>",
        "body without closing head",
        "",
        id="missing-head-end",
    ),
    pytest.param(
        '<p>broken <b attr="x>text',
        'broken <b attr="x>text',
        "",
        id="unterminated-tag-at-end-is-text",
    ),
    pytest.param("<p>a <!-- never closed <p>b", "a", "", id="unterminated-comment-runs-to-end"),
    pytest.param("</br>x</p></div>", "x", "", id="stray-end-tags"),
    pytest.param("", "", "", id="empty"),
]


@pytest.mark.parametrize(("html", "visible", "hidden"), RENDER_CASES)
def test_render(html: str, visible: str, hidden: str) -> None:
    result = html_to_text(html)
    assert result.visible == visible
    assert result.hidden == hidden


def test_urls_from_attributes_and_text() -> None:
    result = html_to_text(
        '<a href="https://pay.example/x?a=1&amp;b=2">click</a>'
        '<img src="http://img.example/i.png">'
        '<a href="mailto:someone@example.org">mail</a>'
        '<a href="javascript:void(0)">js</a>'
        "<p>or visit www.example.net/path. Or https://pay.example/x?a=1&amp;b=2</p>"
        '<div style="display:none">hidden https://hidden.example/</div>'
        '<img src="//cdn.example/x.gif">'
    )
    assert result.urls == (
        "https://pay.example/x?a=1&b=2",
        "http://img.example/i.png",
        "https://cdn.example/x.gif",
        "www.example.net/path",
        "https://hidden.example/",
    )


def test_find_urls_in_text() -> None:
    text = (
        "See https://a.example/path, (http://b.example/x) and "
        "https://en.wikipedia.example/wiki/Foo_(bar). Also WWW.C.EXAMPLE! http:// alone"
    )
    assert find_urls(text) == [
        "https://a.example/path",
        "http://b.example/x",
        "https://en.wikipedia.example/wiki/Foo_(bar)",
        "WWW.C.EXAMPLE",
    ]


def test_result_is_a_frozen_value() -> None:
    result = html_to_text("<p>x</p>")
    assert isinstance(result, HtmlText)
    with pytest.raises(AttributeError):
        result.visible = "y"  # type: ignore[misc]


# Inputs on which Python 3.11's html.parser is quadratic or worse, or that nest deeply:
# each must render in bounded time.
HOSTILE = [
    pytest.param("<!--" * 50_000, id="unterminated-comments"),
    pytest.param("</" * 50_000, id="unterminated-end-tags"),
    pytest.param("<?" * 50_000, id="unterminated-processing-instructions"),
    pytest.param("<![CDATA[" * 20_000, id="unterminated-cdata"),
    pytest.param("<!" * 50_000, id="unterminated-declarations"),
    pytest.param("<div>" * 100_000 + "deep", id="deep-nesting"),
    pytest.param("<b>x" * 300_000, id="many-tags"),
    pytest.param("< " * 300_000 + ">", id="many-lone-brackets"),
    pytest.param('<a b="' * 50_000 + ">", id="unterminated-attributes"),
]


@pytest.mark.parametrize("html", HOSTILE)
def test_hostile_html_is_bounded(html: str) -> None:
    started = time.perf_counter()
    result = html_to_text(html)
    assert isinstance(result, HtmlText)
    assert time.perf_counter() - started < 10.0


def test_text_after_the_tag_budget_is_kept() -> None:
    html = "<b>x</b>" * 150_000 + "<p>the accusation at the end</p>"
    assert "the accusation at the end" in html_to_text(html).visible


HTMLISH = st.lists(
    st.sampled_from(
        [
            *("<", ">", "/", "!", "-", "?", "=", '"', "'", "&", ";", "#", " ", "\n", "x", "é"),
            *("p", "div", "span", "style", "script", "display:none", "color:#fff", "hidden"),
            *("<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#", "http://a.example/"),
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(HTMLISH)
def test_never_raises_on_html_like_junk(html: str) -> None:
    result = html_to_text(html)
    assert isinstance(result.visible, str)
    assert isinstance(result.hidden, str)
    assert all(isinstance(url, str) for url in result.urls)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_on_any_text(html: str) -> None:
    assert isinstance(html_to_text(html), HtmlText)


def test_quote_containers_are_split_from_the_authors_text() -> None:
    from milter.mail.html import html_to_text

    rendered = html_to_text(
        "<p>My answer</p><blockquote><p>their words</p></blockquote>"
        '<div class="moz-cite-prefix">On Monday X wrote:</div><p>after</p>'
    )
    assert rendered.visible == "My answer\ntheir words\nOn Monday X wrote:\nafter"
    assert rendered.quoted == "their words\nOn Monday X wrote:"
    assert rendered.own == "My answer\nafter" and rendered.author == rendered.own
    plain = html_to_text("<p>nothing quoted</p>")
    assert plain.quoted == "" and plain.own is None and plain.author == "nothing quoted"


def test_links_that_show_another_domain_are_recorded() -> None:
    from milter.mail.html import html_to_text

    rendered = html_to_text(
        '<p><a href="https://pay.example/x">www.gov.br/receita</a>'
        '<a href="https://www.gov.br/a">gov.br</a>'  # shows where it goes
        '<a href="http://sub.bank.example/">bank.example</a>'  # its own subdomain
        '<a href="https://x.example">Clique aqui</a>'  # shows no domain
        '<a href="https://evil.example"><b>https://</b>police.be</a></p>'
    )
    assert rendered.masked_links == ("www.gov.br -> pay.example", "police.be -> evil.example")
