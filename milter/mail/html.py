"""HTML rendered to the text a reader sees, the text hidden from them, and its URLs.

Scams hide words from the reader and show them to filters, or the reverse: padding in
white on white, zero-size fonts, ``display:none`` blocks full of harmless words. Rules
see the visible text as the body and the hidden text as a target of its own, so hiding
text is itself a signal and hidden padding cannot dilute the visible accusation.

The parser is the standard library's ``html.parser`` (lenient, never refuses input);
the little CSS we read is inline ``style`` attributes and the old presentational
attributes (``bgcolor``, ``<font color>``), which is what mail clients honour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape as _html_unescape
from html.parser import HTMLParser
from typing import Final

# Bounds on the work for one HTML part. Real mail HTML is well under a megabyte; a
# message at the size limit must still render in bounded time.
MAX_HTML_CHARS: Final = 4_000_000
# Deeper nesting than this is not rendered differently by any client worth imitating;
# past it, elements are counted but not tracked.
MAX_DEPTH: Final = 256
MAX_URLS: Final = 1_000
# html.parser handles a few hundred thousand tags or text runs a second here; past this
# many, the rest of the part is reduced to its text with a regex (no hidden-text
# detection there), so a part made of millions of tiny tags costs about a second.
MAX_EVENTS: Final = 200_000
_CHUNK: Final = 65_536


@dataclass(frozen=True)
class HtmlText:
    """What one HTML part shows and hides.

    ``visible`` is the rendered text (block elements on their own lines, entities
    decoded, no script, style or title). ``hidden`` is text present in the markup but
    not shown: ``display:none``, ``visibility:hidden``, ``hidden``, fonts of 1px or
    less, text in (nearly) the background colour, ``opacity:0``, zero-size boxes with
    ``overflow:hidden``, text moved off screen. ``urls`` are the http(s) and ``www.``
    links of ``href``/``src``-like attributes and of the text, in order, deduplicated.

    ``quoted`` is the visible text inside the containers mail clients quote a reply or
    a forward in (``<blockquote>``, Gmail's ``gmail_quote``, Thunderbird's
    ``moz-cite-prefix``, Yahoo's ``yahoo_quoted``), and ``own`` the visible text
    outside them; ``own`` is None when nothing is quoted (it is ``visible`` then).
    """

    visible: str
    hidden: str
    urls: tuple[str, ...]
    quoted: str = ""
    own: str | None = None
    # Links whose visible text shows a domain other than the host they lead to, as
    # "shown -> host" ("www.gov.br -> pay.example"): the reader trusts what is shown.
    masked_links: tuple[str, ...] = ()

    @property
    def author(self) -> str:
        """The visible text outside quote containers (zones.py splits it further)."""
        return self.visible if self.own is None else self.own


# --- URLs ---------------------------------------------------------------------------

_URL_IN_TEXT: Final = re.compile(r"(?:https?://|www\.)[^\s<>\"'`{}|\\^\[\]]{1,2000}", re.IGNORECASE)
# Punctuation that ends a sentence, not a URL ("see https://x.example/a.").
_URL_TRAILING: Final = ".,;:!?)'\"»>]}"


def find_urls(text: str) -> list[str]:
    """The http(s) and ``www.`` URLs in plain text, in order (duplicates kept)."""
    urls: list[str] = []
    # Every match holds "://" or a case variant of "www." (no other character matches
    # these under re.IGNORECASE). Most text parts have neither, and skipping the regex
    # there saves its scan, which costs over 20 ns a character.
    if "://" not in text and "www." not in text.lower():
        return urls
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        if url.count("(") > url.count(")") and match.group()[len(url) : len(url) + 1] == ")":
            url += ")"  # Wikipedia-style "…/Foo_(bar)"
        if len(url) > 4 and not url.lower().endswith(("://", "www.")):
            urls.append(url)
    return urls


# A domain written in a link's text ("www.gov.br", "https://receita.gov.br/cpf"): two
# labels at least, the last alphabetic.
_SHOWN_DOMAIN: Final = re.compile(r"(?:https?://)?((?:[a-z0-9-]{1,63}\.)+[a-z]{2,24})\b")
_LINK_HOST: Final = re.compile(r"(?:https?:)?//([^/?#:@\s]+)", re.IGNORECASE)
_ANCHOR_TEXT: Final = 300  # characters of a link's text looked at
MAX_MASKED_LINKS: Final = 50


def _link_host(url: str) -> str:
    if url[:4].lower() == "www.":
        url = "//" + url
    match = _LINK_HOST.match(url)
    return match.group(1).lower().rstrip(".") if match else ""


def _bare_www(domain: str) -> str:
    return domain[4:] if domain.startswith("www.") else domain


def _attribute_url(value: str) -> str | None:
    value = value.strip().strip("\"'")
    lower = value[:8].lower()
    if lower.startswith(("http://", "https://", "www.")):
        return value
    if lower.startswith("//"):
        return "https:" + value  # protocol-relative: a browser would fetch it
    return None


# --- colours and inline CSS -----------------------------------------------------------

_NAMED_COLOURS: Final = {
    "white": (255, 255, 255),
    "snow": (255, 250, 250),
    "ivory": (255, 255, 240),
    "ghostwhite": (248, 248, 255),
    "whitesmoke": (245, 245, 245),
    "floralwhite": (255, 250, 240),
    "mintcream": (245, 255, 250),
    "azure": (240, 255, 255),
    "aliceblue": (240, 248, 255),
    "seashell": (255, 245, 238),
    "linen": (250, 240, 230),
    "honeydew": (240, 255, 240),
    "lavenderblush": (255, 240, 245),
    "black": (0, 0, 0),
    "silver": (192, 192, 192),
    "lightgray": (211, 211, 211),
    "lightgrey": (211, 211, 211),
    "gainsboro": (220, 220, 220),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "darkgray": (169, 169, 169),
    "darkgrey": (169, 169, 169),
    "dimgray": (105, 105, 105),
    "red": (255, 0, 0),
    "maroon": (128, 0, 0),
    "yellow": (255, 255, 0),
    "olive": (128, 128, 0),
    "lime": (0, 255, 0),
    "green": (0, 128, 0),
    "aqua": (0, 255, 255),
    "cyan": (0, 255, 255),
    "teal": (0, 128, 128),
    "blue": (0, 0, 255),
    "navy": (0, 0, 128),
    "fuchsia": (255, 0, 255),
    "magenta": (255, 0, 255),
    "purple": (128, 0, 128),
    "orange": (255, 165, 0),
}
_RGB: Final = re.compile(r"rgba?\(\s*([\d.]+%?)\s*[, ]\s*([\d.]+%?)\s*[, ]\s*([\d.]+%?)")
_HEX: Final = re.compile(r"#([0-9a-f]{3,8})\b")
# Colours this close (sum of channel differences) are indistinguishable on screen.
_SAME_COLOUR: Final = 30
# Mail clients show black text on white unless told otherwise.
_DEFAULT_BACKGROUND: Final = (255, 255, 255)
_DEFAULT_COLOUR: Final = (0, 0, 0)

Colour = tuple[int, int, int]


def _parse_colour(value: str) -> Colour | bool | None:
    """A colour value: RGB, ``False`` for transparent, ``None`` when unknown."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("transparent"):
        return False
    match = _HEX.match(value)
    if match:
        digits = match.group(1)
        if len(digits) in (3, 4):
            if len(digits) == 4 and digits[3] == "0":
                return False
            return (int(digits[0] * 2, 16), int(digits[1] * 2, 16), int(digits[2] * 2, 16))
        if len(digits) in (6, 8):
            if len(digits) == 8 and digits[6:8] == "00":
                return False
            return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        return None
    match = _RGB.match(value)
    if match:
        channels: list[int] = []
        for raw in match.groups():
            try:
                number = float(raw.rstrip("%"))
            except ValueError:
                return None
            if raw.endswith("%"):
                number = number * 255 / 100
            channels.append(max(0, min(255, round(number))))
        if value.startswith("rgba"):
            alpha = value.rstrip(") ").rsplit(",", 1)[-1].strip()
            if alpha in ("0", "0.0", "0%"):
                return False
        return (channels[0], channels[1], channels[2])
    word = value.split()[0].rstrip(";!")
    if word in _NAMED_COLOURS:
        return _NAMED_COLOURS[word]
    # Bare hex without "#" is what old bgcolor attributes often hold.
    if re.fullmatch(r"[0-9a-f]{6}", word):
        return (int(word[0:2], 16), int(word[2:4], 16), int(word[4:6], 16))
    return None


def _colour_of_background(value: str) -> Colour | bool | None:
    """The colour in a ``background`` shorthand; ``None`` if it is an image or unknown."""
    lower = value.lower()
    if "url(" in lower or "gradient" in lower:
        return None
    for token in re.findall(r"#[0-9a-f]+|rgba?\([^)]*\)|[a-z]+", lower):
        colour = _parse_colour(token)
        if colour is not None:
            return colour
    return None


_LENGTH: Final = re.compile(r"^(-?[\d.]+)\s*([a-z%]*)")


def _length_px(value: str) -> float | None:
    """A CSS length in pixels (roughly: 1em = 16px), ``None`` when not a length."""
    match = _LENGTH.match(value.strip().lower())
    if not match:
        return None
    try:
        number = float(match.group(1))
    except ValueError:
        return None
    unit = match.group(2)
    factor = {"": 1.0, "px": 1.0, "pt": 4 / 3, "em": 16.0, "rem": 16.0, "%": 0.16}.get(unit)
    if factor is None:
        factor = {"ex": 8.0, "ch": 8.0, "mm": 3.78, "cm": 37.8, "in": 96.0, "pc": 16.0}.get(
            unit, 1.0
        )
    return number * factor


def _parse_style(style: str) -> dict[str, str]:
    declarations: dict[str, str] = {}
    for item in style[:4000].split(";"):
        name, sep, value = item.partition(":")
        if sep:
            value = value.replace("!important", "").strip().lower()
            declarations[name.strip().lower()] = value
    return declarations


# --- the renderer ----------------------------------------------------------------------


def _tags(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Content never shown in the body.
# (Not <head>: a missing </head> would then hide the whole body, which no browser does;
# what <head> holds is title, style and script anyway.)
_SKIP_CONTENT: Final = frozenset(("script", "style", "title", "template"))
_VOID: Final = _tags(
    "area base basefont bgsound br col embed frame hr img input keygen link meta "
    "param source track wbr"
)
_BLOCK: Final = _tags(
    "address article aside blockquote body center dd details dialog dir div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html "
    "li main menu nav ol p pre section summary table tbody thead tfoot tr td th ul "
    "caption option legend"
)
# An open <p> is closed by the start of any of these (HTML's implied end tags); without
# that, an unclosed hidden <p> would hide everything after it, which no browser does.
_CLOSES_P: Final = _tags(
    "address article aside blockquote center details dialog dir div dl fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav "
    "ol p pre section summary table ul"
)
_SCOPE: Final = frozenset(("table", "td", "th", "caption", "button", "object", "html", "template"))
# Start tags that close an open sibling (the open tags they close, and the tags that
# stop the search), as HTML's implied end tags do.
_SIBLING_CLOSES: Final = {
    "li": (frozenset(("li",)), _SCOPE | {"ul", "ol"}),
    "dt": (frozenset(("dt", "dd")), _SCOPE | {"dl"}),
    "dd": (frozenset(("dt", "dd")), _SCOPE | {"dl"}),
    "tr": (frozenset(("tr", "td", "th")), frozenset(("table", "thead", "tbody", "tfoot"))),
    "td": (frozenset(("td", "th")), frozenset(("tr", "table"))),
    "th": (frozenset(("td", "th")), frozenset(("tr", "table"))),
    "option": (frozenset(("option",)), _SCOPE | {"select", "datalist", "optgroup"}),
}
_P: Final = frozenset(("p",))
# The class names of the containers mail clients put a quoted reply or forward in.
_QUOTE_CLASS: Final = re.compile(
    r"\b(?:gmail_quote|moz-cite-prefix|yahoo_quoted|protonmail_quote|x_gmail_quote)\b",
    re.IGNORECASE,
)
_URL_ATTRIBUTES: Final = frozenset(("href", "src", "background", "action", "data-src"))
_BLANK_RUN: Final = re.compile(r"[ \t\r\n\f\v]+")


@dataclass(slots=True)
class _Frame:
    tag: str
    hidden: bool  # hidden by structure (display:none…): nothing inside can show again
    skip: bool  # script, style, title: not text at all
    colour: Colour | None  # text colour set by the mail itself; None: not set
    background: Colour | None  # None: an image or unknown, colours cannot be judged
    camouflaged: bool = False  # text colour (nearly) the background colour
    quoted: bool = False  # inside a container mail clients quote a reply or forward in


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # Text colour is judged only where the mail sets one: a <style> sheet we do not
        # read may have set it for the whole page (white text on a dark bgcolor).
        root = _Frame("#root", False, False, None, _DEFAULT_BACKGROUND)
        self.stack: list[_Frame] = [root]
        self.open_tags: dict[str, int] = {}
        self.overflow = 0
        self.visible: list[str] = []
        self.hidden: list[str] = []
        # The visible text again, split by whether it is quoted (HtmlText.quoted, own).
        self.own: list[str] = []
        self.quoted: list[str] = []
        # The open <a>: its link's host and the text shown in it so far.
        self.anchor: tuple[str, list[str]] | None = None
        self.masked: list[str] = []
        self.urls: list[str] = []
        self.pre = 0
        self.events = 0
        self.last_hidden = False

    # -- structure --

    def _close_to(self, index: int) -> None:
        open_tags = self.open_tags
        for frame in self.stack[index:]:
            open_tags[frame.tag] -= 1
            if frame.tag == "pre":
                self.pre = max(0, self.pre - 1)
            if frame.tag in _BLOCK:
                self._newline(frame.hidden or frame.camouflaged)
        del self.stack[index:]

    def _find_open(self, tags: frozenset[str], scope: frozenset[str]) -> int:
        if not any(self.open_tags.get(tag) for tag in tags):
            return -1
        for index in range(len(self.stack) - 1, 0, -1):
            tag = self.stack[index].tag
            if tag in tags:
                return index
            if tag in scope:
                return -1
        return -1

    def _newline(self, hidden: bool) -> None:
        outs = (self.hidden,) if hidden else (self.visible, self.own, self.quoted)
        for out in outs:
            if out and out[-1] != "\n":
                out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, void=tag in _VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, void=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, void: bool) -> None:
        self.events += 1
        if tag in _CLOSES_P:
            index = self._find_open(_P, _SCOPE)
            if index > 0:
                self._close_to(index)
        siblings = _SIBLING_CLOSES.get(tag)
        if siblings is not None:
            index = self._find_open(*siblings)
            if index > 0:
                self._close_to(index)

        parent = self.stack[-1]
        frame = _Frame(
            tag,
            parent.hidden,
            parent.skip,
            parent.colour,
            parent.background,
            parent.camouflaged,
            parent.quoted,
        )
        if tag == "blockquote":
            frame.quoted = True
        if tag in _SKIP_CONTENT:
            frame.skip = True
        colours_set = False
        for name, value in attrs:
            if value is None:
                if name == "hidden":
                    frame.hidden = True
                continue
            if name in _URL_ATTRIBUTES:
                url = _attribute_url(value)
                if url and len(self.urls) < MAX_URLS:
                    self.urls.append(url)
                if url and tag == "a" and name == "href":
                    self._close_anchor()
                    host = _link_host(url)
                    if host:
                        self.anchor = (host, [])
                if name == "background" and value.strip():
                    frame.background = None  # an image: colours cannot be judged
                    colours_set = True
            elif name == "style":
                colours_set = self._apply_style(frame, value) or colours_set
            elif name == "hidden":
                frame.hidden = True
            elif name == "bgcolor":
                colour = _parse_colour(value)
                if colour:
                    frame.background = colour
                    colours_set = True
            elif name == "color" and tag == "font":
                colour = _parse_colour(value)
                if colour is False:
                    frame.hidden = True
                elif colour:
                    frame.colour = colour
                    colours_set = True
            elif name == "type" and tag == "input" and value.lower() == "hidden":
                frame.hidden = True
            elif name == "class" and _QUOTE_CLASS.search(value):
                frame.quoted = True
        if colours_set:
            frame.camouflaged = (
                frame.colour is not None
                and frame.background is not None
                and abs(frame.colour[0] - frame.background[0])
                + abs(frame.colour[1] - frame.background[1])
                + abs(frame.colour[2] - frame.background[2])
                <= _SAME_COLOUR
            )

        if tag == "br" or tag in _BLOCK:
            self._newline(frame.hidden or frame.camouflaged)
        if void:
            return
        if len(self.stack) >= MAX_DEPTH:
            self.overflow += 1
            return
        if tag == "pre":
            self.pre += 1
        self.open_tags[tag] = self.open_tags.get(tag, 0) + 1
        self.stack.append(frame)

    def _apply_style(self, frame: _Frame, style: str) -> bool:
        """Apply inline CSS to ``frame``; True when it set a colour or background."""
        css = _parse_style(style)
        if not css:
            return False
        colours_set = False
        display = css.get("display", "")
        if display.startswith("none") or css.get("visibility", "").startswith(
            ("hidden", "collapse")
        ):
            frame.hidden = True
        if css.get("mso-hide", "").startswith("all"):
            frame.hidden = True
        size = _length_px(css.get("font-size", ""))
        if size is not None and size <= 1:
            frame.hidden = True
        opacity = css.get("opacity")
        if opacity is not None:
            try:
                if float(opacity.rstrip("%")) <= (1 if opacity.endswith("%") else 0.01):
                    frame.hidden = True
            except ValueError:
                pass
        if css.get("overflow", "").startswith("hidden"):
            for name in ("width", "height", "max-width", "max-height", "line-height"):
                size = _length_px(css.get(name, ""))
                if size is not None and size <= (0 if name == "line-height" else 1):
                    frame.hidden = True
        for name in ("text-indent", "left", "top", "margin-left", "margin-top"):
            size = _length_px(css.get(name, ""))
            if size is not None and size <= -999:
                frame.hidden = True
        if "clip" in css and re.search(r"rect\(\s*0(px)?[ ,]+0(px)?[ ,]+0", css["clip"]):
            frame.hidden = True
        if "color" in css:
            colour = _parse_colour(css["color"])
            if colour is False:
                frame.hidden = True
            elif colour:
                frame.colour = colour
                colours_set = True
        background = css.get("background-color")
        if background is not None:
            colour = _parse_colour(background)
            if colour:
                frame.background = colour
                colours_set = True
        if "background-image" in css and "url(" in css["background-image"]:
            frame.background = None
            colours_set = True
        if "background" in css:
            colour = _colour_of_background(css["background"])
            if colour:
                frame.background = colour
                colours_set = True
            elif "url(" in css["background"] or "gradient" in css["background"]:
                frame.background = None
                colours_set = True
        return colours_set

    def _close_anchor(self) -> None:
        """Compare what the open link showed with where it leads."""
        if self.anchor is None:
            return
        host, pieces = self.anchor
        self.anchor = None
        if len(self.masked) >= MAX_MASKED_LINKS:
            return
        shown = _SHOWN_DOMAIN.search("".join(pieces)[:_ANCHOR_TEXT].lower())
        if shown is None:
            return
        domain = shown.group(1).rstrip(".")
        if _bare_www(domain) != _bare_www(host) and not host.endswith("." + domain):
            self.masked.append(f"{domain} -> {host}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_anchor()
        if tag == "br":
            frame = self.stack[-1]
            self._newline(frame.hidden or frame.camouflaged)  # "</br>" is read as "<br>"
            return
        if tag in _VOID:
            return
        if self.overflow:
            self.overflow -= 1
            return
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                self._close_to(index)
                return
            # An end tag does not close past a table cell or table it is not in.
            if self.stack[index].tag in ("td", "th", "table") and tag not in _BLOCK:
                return

    # -- content --

    def handle_data(self, data: str) -> None:
        self.events += 1
        frame = self.stack[-1]
        if frame.skip or not data:
            return
        if not self.pre:
            data = _BLANK_RUN.sub(" ", data)
        hidden = frame.hidden or frame.camouflaged
        out = self.hidden if hidden else self.visible
        if hidden != self.last_hidden:
            self.last_hidden = hidden
            # Hidden pieces from different places are apart: "<span hidden>pay</span>
            # text <span hidden>now</span>" hides "pay now". Visible text is never
            # split: "pay<span hidden>zz</span>ment" shows "payment".
            if hidden and out and not out[-1][-1:].isspace():
                out.append(" ")
        out.append(data)
        if not hidden:
            (self.quoted if frame.quoted else self.own).append(data)
            if self.anchor is not None:
                self.anchor[1].append(data)

    # Comments, declarations and processing instructions show nothing; the defaults
    # already ignore them. Conditional comments (<!--[if mso]>) hold markup for Outlook
    # only and are dropped with the other comments.

    # -- result --

    def result(self) -> HtmlText:
        visible = _tidy("".join(self.visible))
        hidden = _tidy("".join(self.hidden))
        urls = list(self.urls)
        for text in (visible, hidden):
            if len(urls) >= MAX_URLS:
                break
            urls.extend(find_urls(text))
        quoted = _tidy("".join(self.quoted)) if self.quoted else ""
        own = _tidy("".join(self.own)) if quoted else None
        self._close_anchor()
        masked = _dedupe(self.masked)
        return HtmlText(visible, hidden, _dedupe(urls)[:MAX_URLS], quoted, own, masked)


_LINE_EDGES: Final = re.compile(r"[ \t]*\n[ \t]*")
_MANY_NEWLINES: Final = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    text = _LINE_EDGES.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def _dedupe(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _defuse(html: str) -> str:
    """Cut an unterminated comment and make markup that cannot end plain text.

    Python 3.11's html.parser retries every "<" of an unterminated construct against
    the whole rest of the input, which is quadratic ("<!--" repeated 100,000 times
    takes minutes). Browsers let an unterminated comment run to the end, and after the
    last ">" nothing can be a complete tag; we do the same cheaply: cut at the comment,
    escape what follows the last ">".
    """
    closing = html.rfind("-->")
    opening = html.find("<!--", closing + 3 if closing >= 0 else 0)
    if opening >= 0:
        html = html[:opening]
    last = html.rfind(">")
    tail = html[last + 1 :]
    if "<" not in tail:
        return html
    return html[: last + 1] + tail.replace("&", "&amp;").replace("<", "&lt;")


_ANY_TAG: Final = re.compile(r"<!--.*?(?:-->|$)|<[^>]*(?:>|$)", re.DOTALL)


def join_html(first: HtmlText, second: HtmlText) -> HtmlText:
    """Two renderings of pieces of one part (its start and its end) as one."""
    quoted = "\n".join(t for t in (first.quoted, second.quoted) if t)
    masked = _dedupe([*first.masked_links, *second.masked_links])[:MAX_MASKED_LINKS]
    return HtmlText(
        visible="\n".join(t for t in (first.visible, second.visible) if t),
        hidden="\n".join(t for t in (first.hidden, second.hidden) if t),
        urls=_dedupe([*first.urls, *second.urls])[:MAX_URLS],
        quoted=quoted,
        own="\n".join(t for t in (first.author, second.author) if t) if quoted else None,
        masked_links=masked,
    )


# How far into a piece cut from the middle of HTML its first tag may start.
_TAG_SEARCH: Final = 10_000


def start_at_tag(piece: str) -> str:
    """A piece cut from the middle of HTML, from its first tag on, so that the rest of a
    tag cut in two is not read as text."""
    start = piece.find("<", 0, _TAG_SEARCH)
    return piece[start:] if start > 0 else piece


def html_to_text(html: str) -> HtmlText:
    """Render ``html`` to visible text, hidden text and URLs; never raises.

    Past MAX_HTML_CHARS, its start and its end are rendered, each on its own: padding
    goes before the text it hides, and the end of a document does not depend on the
    elements its start left open (the end renders as a page of its own would).
    """
    if len(html) > MAX_HTML_CHARS:
        half = MAX_HTML_CHARS // 2
        return join_html(_render(html[:half]), _render(start_at_tag(html[-half:])))
    return _render(html)


def _render(html: str) -> HtmlText:
    renderer = _Renderer()
    html = _defuse(html)
    position = 0
    try:
        while position < len(html) and renderer.events <= MAX_EVENTS:
            renderer.feed(html[position : position + _CHUNK])
            position += _CHUNK
        if position < len(html):
            # Too many tags: the rest (what the parser still buffers, and what it was
            # never given) becomes plain text.
            rest = renderer.rawdata + html[position:]
            renderer.reset()
            renderer.visible.append("\n")
            renderer.visible.append(_html_unescape(_ANY_TAG.sub(" ", rest)))
        else:
            renderer.close()
    except Exception:  # html.parser bugs on hostile input; keep what we have
        pass
    try:
        return renderer.result()
    except Exception:  # same: the result of a partial parse is still useful
        return HtmlText(visible="", hidden="", urls=())
