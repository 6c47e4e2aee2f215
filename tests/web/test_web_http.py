"""The review page over HTTP (Starlette's TestClient): login, sessions, CSRF, roles,
the pages and the actions, and the headers that keep a held scam inert."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from milter.config import Config, ReportSettings
from milter.quarantine.store import QuarantineStore, Status
from milter.scan.verdict import Action, RuleHit, Verdict
from milter.web.app import WebSettings, create_app
from milter.web.ratelimit import LoginLimiter
from milter.web.sessions import COOKIE
from tests.helpers.web_site import PASSWORD, REVIEWER, VIEWER, NextHop, csrf_of, hold


class Clock:
    """A clock the test moves: the limiter's window without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app_client(
    qdir: Path,
    users_file: Path,
    next_hop: tuple[str, int] | None = None,
    limiter: LoginLimiter | None = None,
    config: Config | None = None,
) -> TestClient:
    settings = WebSettings(
        quarantine_dir=qdir, users_file=users_file, config=config or Config(), next_hop=next_hop
    )
    return TestClient(create_app(settings, limiter=limiter), follow_redirects=False)


@pytest.fixture
def client(qdir: Path, users_file: Path, held: str, hop: NextHop) -> Iterator[TestClient]:
    with app_client(qdir, users_file, ("127.0.0.1", hop.port)) as c:
        yield c


def login(client: TestClient, name: str = REVIEWER, password: str = PASSWORD) -> object:
    page = client.get("/login")
    assert page.status_code == 200
    return client.post(
        "/login", data={"user": name, "password": password, "csrf": csrf_of(page.text)}
    )


def token(client: TestClient, path: str = "/messages") -> str:
    return csrf_of(client.get(path).text)


# --- login, logout ---------------------------------------------------------------------


def test_pages_need_a_login(client: TestClient, held: str) -> None:
    for path in ("/messages", f"/messages/{held}", f"/messages/{held}/raw", "/stats"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(
    client: TestClient, held: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "scam_milter.web")
    response = login(client)
    assert response.status_code == 303 and response.headers["location"] == "/messages"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    listing = client.get("/messages")
    assert listing.status_code == 200 and held in listing.text
    assert f"{REVIEWER} logged in from" in caplog.text

    response = client.post("/logout", data={"csrf": csrf_of(listing.text)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/messages").status_code == 303
    assert f"{REVIEWER} logged out" in caplog.text


def test_a_wrong_password_or_unknown_user_is_refused(client: TestClient) -> None:
    for name, password in ((REVIEWER, "wrong password"), ("nobody", PASSWORD)):
        response = login(client, name, password)
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
        assert client.get("/messages").status_code == 303


def test_logins_are_rate_limited_per_user_and_per_address(
    qdir: Path, users_file: Path, held: str
) -> None:
    clock = Clock()
    limiter = LoginLimiter(per_address=5, per_user=3, window_seconds=60, clock=clock)
    with app_client(qdir, users_file, limiter=limiter) as client:
        for _ in range(3):
            assert login(client, REVIEWER, "wrong password").status_code == 401
        # Over the limit for this name: even the right password is refused now.
        refused = login(client, REVIEWER, PASSWORD)
        assert refused.status_code == 429 and "Too many failed logins" in refused.text
        # Another name from the same address still gets in, until the address is over.
        assert login(client, VIEWER, PASSWORD).status_code == 303
        client.cookies.clear()
        for _ in range(2):
            assert login(client, "mallory", "guess").status_code == 401
        assert login(client, VIEWER, PASSWORD).status_code == 429
        # After the window, the failures are forgotten.
        clock.now += 61
        assert login(client, REVIEWER, PASSWORD).status_code == 303


def test_a_changed_password_ends_the_old_sessions(client: TestClient, users_file: Path) -> None:
    from milter.web.accounts import UsersFile

    login(client)
    assert client.get("/messages").status_code == 200
    UsersFile(users_file).set_password(REVIEWER, "another long password")
    assert client.get("/messages").status_code == 303


def test_a_forged_cookie_is_no_session(client: TestClient) -> None:
    login(client)
    value = client.cookies[COOKIE]
    body, _, mac = value.partition(".")
    client.cookies.clear()
    client.cookies.set(COOKIE, body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"))
    assert client.get("/messages").status_code == 303


# --- CSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_a_post_without_the_right_csrf_token_is_refused(
    client: TestClient, store: QuarantineStore, held: str, hop: NextHop, csrf: str | None
) -> None:
    login(client)
    data = {} if csrf is None else {"csrf": csrf}
    for action in ("release", "delete"):
        response = client.post(f"/messages/{held}/{action}", data=data)
        assert response.status_code == 403
        assert "security token" in response.text
    assert client.post("/logout", data=data).status_code == 403
    assert store.record(held).entry.status is Status.HELD
    assert hop.messages == []


def test_a_login_post_without_a_session_or_token_is_refused(client: TestClient) -> None:
    response = client.post("/login", data={"user": REVIEWER, "password": PASSWORD})
    assert response.status_code == 403
    client.get("/login")
    response = client.post("/login", data={"user": REVIEWER, "password": PASSWORD, "csrf": "nope"})
    assert response.status_code == 403


# --- roles and actions ---------------------------------------------------------------------


def test_a_viewer_reads_but_may_not_release_or_delete(
    client: TestClient, store: QuarantineStore, held: str, hop: NextHop
) -> None:
    login(client, VIEWER)
    page = client.get(f"/messages/{held}")
    assert page.status_code == 200
    assert 'id="release"' not in page.text and 'id="delete"' not in page.text
    csrf = csrf_of(page.text)
    for action in ("release", "delete"):
        response = client.post(f"/messages/{held}/{action}", data={"csrf": csrf})
        assert response.status_code == 403
        assert "Your role (viewer) may not" in response.text
    assert store.record(held).entry.status is Status.HELD
    assert hop.messages == []


def test_a_reviewer_releases_once_then_deletes(
    client: TestClient,
    store: QuarantineStore,
    held: str,
    hop: NextHop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "scam_milter.web")
    login(client)
    csrf = token(client, f"/messages/{held}")
    response = client.post(f"/messages/{held}/release", data={"csrf": csrf})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/messages/{held}?done=released"
    (message,) = hop.messages
    assert message.rcpt_to == ["victim@example.net"]
    assert message.data.startswith(b"X-Scam-Released: by web:alice at ")
    record = store.record(held)
    assert record.entry.status is Status.RELEASED
    assert record.events[-1].user == "web:alice"
    assert f"{REVIEWER} released {held} to victim@example.net" in caplog.text

    again = client.post(f"/messages/{held}/release", data={"csrf": csrf})
    assert again.status_code == 409 and "already released" in again.text
    assert len(hop.messages) == 1

    response = client.post(f"/messages/{held}/delete", data={"csrf": csrf})
    assert response.status_code == 303
    record = store.record(held)
    assert record.entry.status is Status.DELETED
    assert record.events[-1].user == "web:alice"
    assert f"{REVIEWER} deleted {held}" in caplog.text
    page = client.get(f"/messages/{held}")
    assert page.status_code == 200 and "its content is gone" in page.text
    assert client.get(f"/messages/{held}/raw").status_code == 410


DESK = "verdacht@safeonweb.example"


def test_a_reviewer_reports_once_and_a_viewer_may_not(
    qdir: Path, users_file: Path, store: QuarantineStore, held: str, hop: NextHop
) -> None:
    config = Config(report=ReportSettings(to=DESK))
    with app_client(qdir, users_file, ("127.0.0.1", hop.port), config=config) as client:
        login(client, VIEWER)
        page = client.get(f"/messages/{held}")
        assert 'id="report"' not in page.text
        refused = client.post(f"/messages/{held}/report", data={"csrf": csrf_of(page.text)})
        assert refused.status_code == 403 and hop.messages == []
        client.post("/logout", data={"csrf": csrf_of(page.text)})

        login(client)
        page = client.get(f"/messages/{held}")
        assert f"Report to {DESK}" in page.text
        csrf = csrf_of(page.text)
        assert client.post(f"/messages/{held}/report", data={}).status_code == 403  # no token
        response = client.post(f"/messages/{held}/report", data={"csrf": csrf})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/messages/{held}?done=reported"
        (sent,) = hop.messages
        assert sent.rcpt_to == [DESK] and b"message/rfc822" in sent.data
        (report,) = store.record(held).reports
        assert report.user == "web:alice" and report.to == DESK
        assert store.record(held).entry.status is Status.HELD
        page = client.get(f"/messages/{held}?done=reported")
        assert "Reported." in page.text and 'id="report"' not in page.text
        assert "by web:alice" in page.text
        again = client.post(f"/messages/{held}/report", data={"csrf": csrf})
        assert again.status_code == 409 and "already reported" in again.text
        assert len(hop.messages) == 1


def test_without_a_desk_there_is_no_report_button(client: TestClient, held: str) -> None:
    login(client)
    page = client.get(f"/messages/{held}")
    assert 'id="report"' not in page.text
    refused = client.post(f"/messages/{held}/report", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 409 and "set report.to" in refused.text


def test_release_to_other_recipients_checks_the_addresses(
    client: TestClient, held: str, hop: NextHop
) -> None:
    login(client)
    csrf = token(client, f"/messages/{held}")
    bad = client.post(
        f"/messages/{held}/release", data={"csrf": csrf, "to": "admin@example.net\r\nRSET"}
    )
    assert bad.status_code == 400 and hop.messages == []
    good = client.post(f"/messages/{held}/release", data={"csrf": csrf, "to": "admin@example.net"})
    assert good.status_code == 303
    assert hop.messages[0].rcpt_to == ["admin@example.net"]


# --- pages ---------------------------------------------------------------------------------


def test_list_filters_pages_and_counts(
    client: TestClient, store: QuarantineStore, held: str
) -> None:
    from milter.mail.envelope import Envelope
    from tests.helpers.web_site import hold

    other = hold(
        store,
        subject="Convocation",
        envelope=Envelope(mail_from="x@gov.example", rcpt_to=("b@example.net",)),
    )
    login(client)
    everything = client.get("/messages")
    assert held in everything.text and other in everything.text
    assert "2 matching" in everything.text
    by_sender = client.get("/messages", params={"sender": "@gov.example"})
    assert other in by_sender.text and held not in by_sender.text
    by_rcpt = client.get("/messages", params={"rcpt": "victim@example.net"})
    assert held in by_rcpt.text and other not in by_rcpt.text
    by_rule = client.get("/messages", params={"rule": "SEXTORT_*"})
    assert "2 matching" in by_rule.text
    by_status = client.get("/messages", params={"status": "released"})
    assert "0 matching" in by_status.text
    recent = client.get("/messages", params={"since": "1h", "until": "2999-01-01"})
    assert "2 matching" in recent.text
    bad = client.get("/messages", params={"since": "yesterday-ish"})
    assert bad.status_code == 200 and "since: not a duration" in bad.text
    assert "2 matching" in bad.text


def test_list_pages_by_fifty(client: TestClient, store: QuarantineStore) -> None:
    from tests.helpers.web_site import hold

    for _ in range(55):
        hold(store)
    login(client)
    first = client.get("/messages")
    assert "56 matching, page 1 of 2" in first.text
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = client.get("/messages", params={"page": "2"})
    assert "page 2 of 2" in second.text and 'rel="prev"' in second.text
    assert second.text.count('class="subject"') == 6


def test_message_page_shows_verdict_rules_auth_headers_text(client: TestClient, held: str) -> None:
    login(client)
    page = client.get(f"/messages/{held}")
    assert page.status_code == 200
    text = page.text
    assert "quarantine, score 13" in text
    assert "SEXTORT_WEBCAM_NL" in text and "+8" in text and "PAY_BTC" in text
    assert "<mark>gefilmd via je webcam</mark>" in text  # evidence marked in its context
    assert "softfail" in text and "example.org" in text
    assert "Message-ID: &lt;1@example.org&gt;" in text
    assert "Betaal 1200 EUR in <mark>bitcoin</mark>" in text


def test_message_page_shows_the_text_ocr_read_in_images(
    client: TestClient, store: QuarantineStore
) -> None:
    # The web server never decodes an image: the text comes from the quarantine record,
    # as the scan read it; the evidence quoted from it is marked there.
    verdict = Verdict(
        Action.QUARANTINE,
        12.0,
        (RuleHit("GOVSPOOF_CSAM_ACCUSATION", 4.0, ("Kinderpornografie [image BKA025.jpg]",)),),
        image_texts=(("BKA025.jpg", "BUNDESKRIMINALAMT\nVorladung wegen Kinderpornografie"),),
    )
    entry_id = hold(store, subject="Einladung", verdict=verdict)
    assert store.record(entry_id).image_texts == verdict.image_texts
    login(client)
    page = client.get(f"/messages/{entry_id}")
    assert "image BKA025.jpg, as OCR read it" in page.text
    assert "<mark>Kinderpornografie</mark>" in page.text
    assert "BUNDESKRIMINALAMT" in page.text


def test_raw_download_is_an_attachment_never_rendered(client: TestClient, held: str) -> None:
    from tests.helpers.web_site import RAW

    login(client)
    response = client.get(f"/messages/{held}/raw")
    assert response.status_code == 200
    assert response.content == RAW
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == f'attachment; filename="{held}.eml"'
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_response_carries_the_security_headers(client: TestClient, held: str) -> None:
    login(client)
    for path in ("/login", "/messages", f"/messages/{held}", "/stats", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_the_style_sheet_and_the_icon_need_no_login(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/favicon.ico").status_code == 204


def test_unknown_or_malformed_ids_are_404(client: TestClient) -> None:
    login(client)
    assert client.get("/messages/0000000000000000000000000a").status_code == 404
    assert client.get("/messages/..%2f..%2fetc").status_code == 404


def test_stats_page_draws_bars(client: TestClient, held: str) -> None:
    login(client)
    page = client.get("/stats")
    assert page.status_code == 200
    assert page.text.count("<svg") == 3
    assert ">SEXTORT_WEBCAM_NL</text>" in page.text and ">example.org</text>" in page.text


def test_an_altered_message_or_an_opened_users_file_is_a_503_page(
    client: TestClient, qdir: Path, users_file: Path, held: str
) -> None:
    login(client)
    (qdir / "msg" / f"{held}.eml").write_bytes(b"Subject: swapped\r\n\r\nhi\r\n")
    for path in (f"/messages/{held}", f"/messages/{held}/raw"):
        response = client.get(path)
        assert response.status_code == 503
        assert "does not match its recorded checksum" in response.text
    users_file.chmod(0o644)
    response = client.get("/messages")
    assert response.status_code == 503 and "chmod 600" in response.text


def test_a_session_ends_after_its_lifetime(qdir: Path, users_file: Path, held: str) -> None:
    from milter.web.sessions import LIFETIME_SECONDS

    clock = Clock()
    settings = WebSettings(quarantine_dir=qdir, users_file=users_file)
    app = create_app(settings, clock=clock)
    with TestClient(app, follow_redirects=False) as client:
        login(client)
        clock.now += LIFETIME_SECONDS - 1
        assert client.get("/messages").status_code == 200
        clock.now += 1
        assert client.get("/messages").status_code == 303
