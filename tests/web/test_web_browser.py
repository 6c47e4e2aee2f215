"""The review page in a real headless Chromium (Debian's, driven by Playwright), with
JavaScript switched off: the site needs none. The app runs under a real uvicorn on a
loopback port the OS chose; releases go to an SMTP server on another one.

Needs /usr/bin/chromium and the playwright package, which ./run-tests installs; without
them these tests skip and say why (in CI a missing browser is an error).
SCAM_MILTER_WEB_SHOTS=DIR also saves screenshots of the list and message pages there.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from milter.config import Config, ReportSettings
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineStore, Status
from milter.web.app import WebSettings, create_app
from tests.helpers.web_site import PASSWORD, REVIEWER, VIEWER, NextHop, hold

CHROMIUM = Path("/usr/bin/chromium")
# In CI a missing browser is a broken setup (run-tests installs it), never a skip.
if os.environ.get("CI") and not CHROMIUM.exists():
    raise RuntimeError(f"no {CHROMIUM} for the browser tests: run-tests installs chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


DESK = "verdacht@safeonweb.example"


@pytest.fixture
def site(qdir: Path, users_file: Path, hop: NextHop, store: QuarantineStore) -> Iterator[str]:
    """The app under uvicorn on a socket bound and listening before the server starts:
    connections wait in the backlog, so nothing needs to poll for the server."""
    settings = WebSettings(
        quarantine_dir=qdir,
        users_file=users_file,
        config=Config(report=ReportSettings(to=DESK)),
        next_hop=("127.0.0.1", hop.port),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        # --no-sandbox: Chromium's sandbox cannot start as root, which CI runs as.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: object, name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    wanted = os.environ.get("SCAM_MILTER_WEB_SHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / name)


def log_in(page: object, site: str, name: str) -> None:
    page.goto(f"{site}/login")  # type: ignore[attr-defined]
    page.fill("#user", name)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login")  # type: ignore[attr-defined]


def test_review_in_a_browser(
    browser: object, site: str, store: QuarantineStore, hop: NextHop, tmp_path: Path
) -> None:
    scam = hold(store)
    summons = hold(
        store,
        subject="Convocation <b>urgente</b>",
        envelope=Envelope(
            mail_from="police@gov.example",
            rcpt_to=("boss@example.net",),
            client=ClientInfo(addr="192.0.2.9"),
        ),
    )
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()

    # Login, then the list with both messages.
    log_in(page, site, REVIEWER)
    assert page.url == f"{site}/messages"
    assert page.inner_text("#matched").startswith("2 matching")
    assert page.is_visible(f"a[href='/messages/{scam}']")
    shot(page, "list.png", tmp_path)

    # Filter by sender domain: only the summons is left.
    page.fill("input[name=sender]", "@gov.example")
    page.click("#filter")
    assert page.inner_text("#matched").startswith("1 matching")
    assert page.is_visible(f"a[href='/messages/{summons}']")
    assert not page.is_visible(f"a[href='/messages/{scam}']")
    assert page.inner_text(f"a.subject[href='/messages/{summons}']") == (
        "Convocation <b>urgente</b>"
    )

    # Open the scam: verdict, rules and evidence, marked in the text.
    page.goto(f"{site}/messages")
    page.click(f"a.subject[href='/messages/{scam}']")
    assert page.url == f"{site}/messages/{scam}"
    assert page.inner_text("#status") == "held"
    assert "SEXTORT_WEBCAM_NL" in page.inner_text("ul.rules")
    assert page.inner_text("mark >> nth=0") == "gefilmd via je webcam"
    shot(page, "message.png", tmp_path)

    # Release it: delivered once to the next hop, marked released by the web user.
    page.click("#release")
    assert page.inner_text("#done") == "Released."
    assert page.inner_text("#status") == "released"
    assert [m.rcpt_to for m in hop.messages] == [["victim@example.net"]]
    assert store.record(scam).events[-1].user == f"web:{REVIEWER}"

    # Report the summons to the desk: sent once as an attachment, recorded, still held.
    page.goto(f"{site}/messages/{summons}")
    page.click("#report")
    assert page.inner_text("#done") == "Reported."
    assert page.inner_text("#status") == "held"
    assert not page.is_visible("#report")  # reported once
    assert hop.messages[-1].rcpt_to == [DESK] and b"message/rfc822" in hop.messages[-1].data
    assert store.record(summons).reports[-1].user == f"web:{REVIEWER}"

    # A POST that did not come from our form (no CSRF token) is refused, and changes
    # nothing, even with the session cookie the browser holds.
    response = context.request.post(f"{site}/messages/{summons}/delete", form={"x": "1"})
    assert response.status == 403
    assert store.record(summons).entry.status is Status.HELD

    # Delete the summons from its page: back to the list, where it shows deleted.
    page.goto(f"{site}/messages/{summons}")
    page.click("#delete")
    assert page.url == f"{site}/messages"
    assert store.record(summons).entry.status is Status.DELETED
    page.goto(f"{site}/messages?status=deleted")
    assert page.inner_text("#matched").startswith("1 matching")

    # Logout: the list needs a login again.
    page.click("#logout")
    assert page.url == f"{site}/login"
    page.goto(f"{site}/messages")
    assert page.url == f"{site}/login"
    context.close()


def test_a_viewer_in_a_browser_sees_no_actions_and_a_forced_release_is_refused(
    browser: object, site: str, store: QuarantineStore, hop: NextHop
) -> None:
    entry_id = hold(store)
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    log_in(page, site, VIEWER)
    page.goto(f"{site}/messages/{entry_id}")
    assert page.inner_text("#status") == "held"
    assert page.locator("#release").count() == 0 and page.locator("#delete").count() == 0
    # The logout form holds this session's CSRF token: a release with it is still
    # refused, by role.
    token = page.get_attribute("input[name=csrf]", "value")
    response = context.request.post(
        f"{site}/messages/{entry_id}/release", form={"csrf": token or ""}
    )
    assert response.status == 403
    assert store.record(entry_id).entry.status is Status.HELD and hop.messages == []
    context.close()


def test_a_hostile_message_runs_nothing_in_a_browser_with_javascript_on(
    browser: object, site: str, store: QuarantineStore
) -> None:
    from tests.web.test_web_xss import AUTH as EVIL_AUTH
    from tests.web.test_web_xss import ENVELOPE as EVIL_ENVELOPE
    from tests.web.test_web_xss import EVIL
    from tests.web.test_web_xss import VERDICT as EVIL_VERDICT

    entry_id = store.put(
        EVIL, EVIL_ENVELOPE, EVIL_VERDICT, "<script>alert('subject')</script>", auth=EVIL_AUTH
    ).id
    context = browser.new_context(java_script_enabled=True)  # type: ignore[attr-defined]
    page = context.new_page()
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, site, REVIEWER)
    for path in ("/messages", f"/messages/{entry_id}", "/stats"):
        page.goto(f"{site}{path}")
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
    assert page.url == f"{site}/stats"
    assert dialogs == []
    # Nothing was fetched from anywhere but the site: no tracking pixel, no script.
    assert [url for url in requests if not url.startswith(site)] == []
    context.close()
