"""A held message full of markup is shown inert on every page.

Its Subject, From display name, text and HTML body, attachment name, envelope and rule
evidence carry ``<script>``, ``onerror=`` and ``javascript:``. Each page is parsed
with the standard library's HTML parser: only our own tags may appear, with no event
handler attribute and no ``javascript:`` URL, and the sender's markup must appear as
escaped text only.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Action, RuleHit, Verdict
from milter.web.app import WebSettings, create_app
from tests.helpers.web_site import PASSWORD, REVIEWER, csrf_of

EVIL = (
    b"From: \"<img src=x onerror=alert('from')>\" <evil@example.org>\r\n"
    b"To: victim@example.net\r\n"
    b"Subject: <script>alert('subject')</script>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"<script>alert('body')</script> <img src=x onerror=alert('body')> "
    b"javascript:alert('body')\r\n"
    b"--b\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Pay <a href=\"javascript:alert('html')\">here</a>"
    b'<img src="https://tracker.example/p.gif" onerror="alert(\'html\')">'
    b"<script>alert('html')</script></p>\r\n"
    b"--b\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment; filename=\"<img src=x onerror=alert('att')>.exe\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"TVqQAAMAAAAEAAAA\r\n"
    b"--b--\r\n"
)
VERDICT = Verdict(
    Action.QUARANTINE,
    9.0,
    (
        RuleHit(
            "EVIL<script>alert('rule')</script>",
            9.0,
            ("<script>alert('evidence')</script>", "javascript:alert(1)", "onerror=alert(1)"),
        ),
    ),
)
ENVELOPE = Envelope(
    mail_from="<script>@example.org",
    rcpt_to=("victim@example.net",),
    client=ClientInfo(addr="192.0.2.1", helo="<svg onload=alert(1)>", name="x.example"),
)
AUTH = {"spf": "<script>alert('auth')</script>"}

# Every tag our templates write; anything else on a page came from the message.
OUR_TAGS = {
    "html", "head", "meta", "title", "link", "body", "header", "nav", "a", "form", "input",
    "span", "button", "main", "h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th",
    "td", "label", "select", "option", "section", "ul", "li", "strong", "q", "pre", "mark",
    "svg", "text", "rect",
}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> None:
    parser = Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in OUR_TAGS, f"foreign tag <{tag}>"
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name in ("href", "src", "action"):
                assert value is not None and value.startswith("/"), f"{name}={value!r}"
    for raw in ("<script", "<img", "<svg onload", "onerror=alert('", 'href="javascript'):
        assert raw not in html
    assert "&lt;script&gt;" in html


@pytest.fixture
def client_and_id(tmp_path: Path, users_file: Path) -> Iterator[tuple[TestClient, str]]:
    qdir = tmp_path / "q"
    with QuarantineStore(qdir) as store:
        entry_id = store.put(
            EVIL, ENVELOPE, VERDICT, "<script>alert('subject')</script>", auth=AUTH
        ).id
    settings = WebSettings(quarantine_dir=qdir, users_file=users_file)
    with TestClient(create_app(settings), follow_redirects=True) as client:
        page = client.get("/login")
        client.post(
            "/login", data={"user": REVIEWER, "password": PASSWORD, "csrf": csrf_of(page.text)}
        )
        yield client, entry_id


def test_the_list_shows_the_markup_as_text(client_and_id: tuple[TestClient, str]) -> None:
    client, entry_id = client_and_id
    page = client.get("/messages")
    assert page.status_code == 200 and entry_id in page.text
    assert_inert(page.text)
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in page.text


def test_the_message_page_shows_the_markup_as_text(client_and_id: tuple[TestClient, str]) -> None:
    client, entry_id = client_and_id
    page = client.get(f"/messages/{entry_id}")
    assert page.status_code == 200
    html = page.text
    assert_inert(html)
    # Each carrier is there, escaped: subject, From name, body, attachment, evidence.
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(&#39;from&#39;)&gt;" in html
    assert "&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(&#39;att&#39;)&gt;.exe" in html
    assert "&lt;script&gt;alert(&#39;evidence&#39;)&lt;/script&gt;" in html
    assert "javascript:alert(1)" in html  # as text in the evidence, never as a link
    # The HTML part is shown as the text it renders to: no link, no remote image.
    assert "tracker.example" not in html
    assert "Pay here" in html


def test_the_stats_page_shows_the_markup_as_text(client_and_id: tuple[TestClient, str]) -> None:
    client, _ = client_and_id
    page = client.get("/stats")
    assert page.status_code == 200
    assert_inert(page.text)
    assert "EVIL&lt;script&gt;alert(&#39;rule&#39;)" in page.text
