"""`scam-milter quarantine …` end to end: list, show, release through a real next hop
(Postfix's smtp-sink), delete, purge, stats; exact bytes; exit codes and one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milter.cli.main import main
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineStore, Status
from milter.scan.verdict import Action, RuleHit, Verdict

ROOT = Path(__file__).resolve().parents[2]
SMTP_SINK = Path("/usr/sbin/smtp-sink")

RAW = (
    b"From: Anon <anon@example.org>\r\n"
    b"To: victim@example.net\r\n"
    b"X-Scam-Verdict: accept\r\n"  # forged by the sender: must not survive a release
    b"Subject: =?utf-8?q?Ik_heb_je_gefilmd?=\r\n"
    b"\r\n"
    b"Ik heb je gefilmd via je webcam. Betaal 1300 euro in bitcoin.\r\n"
    b".a line that starts with a dot\r\n"
)
ENVELOPE = Envelope(
    mail_from="anon@example.org",
    rcpt_to=("victim@example.net", "other@example.net"),
    mail_params=(("SIZE", str(len(RAW))), ("BODY", "8BITMIME"), ("ENVID", "QuEuE-7")),
    rcpt_params=((("NOTIFY", "NEVER"),), (("ORCPT", "rfc822;Other@example.net"),)),
    client=ClientInfo(name="mx.example.org", addr="192.0.2.7", helo="mx.example.org"),
)
VERDICT = Verdict(
    action=Action.QUARANTINE,
    score=13.0,
    rules=(
        RuleHit("SEXTORT_WEBCAM_NL", 8.0, ("gefilmd via je webcam",)),
        RuleHit("PAY_BTC", 5.0, ("bitcoin",)),
    ),
)
AUTH = {"spf": "softfail", "dmarc": {"result": "fail", "domain": "example.org"}}


@dataclass
class Run:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()


def cli(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> Run:
    """`scam-milter quarantine ARGV…` in this process, through the real entry point."""
    capsysbinary.readouterr()
    try:
        code = main(["quarantine", *argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsysbinary.readouterr()
    return Run(code, out, err.decode())


def one_error_line(run: Run) -> str:
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    assert lines[0].startswith("scam-milter: error: ")
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class Sink:
    port: int
    directory: Path

    def dumps(self) -> list[tuple[dict[str, list[str]], bytes]]:
        """Each message smtp-sink stored: its envelope (X-* lines) and the message."""
        found = []
        for path in sorted(self.directory.iterdir(), key=lambda p: p.stat().st_mtime):
            lines = path.read_bytes().split(b"\n")
            envelope: dict[str, list[str]] = {}
            i = 0
            while i < len(lines) and re.match(rb"X-[A-Za-z-]+: ", lines[i]):
                key, _, value = lines[i].decode().partition(": ")
                envelope.setdefault(key, []).append(value)
                i += 1
            # smtp-sink's own Received header (three lines), then the message as sent.
            assert lines[i].startswith(b"Received: ")
            i += 1
            while lines[i][:1] in (b" ", b"\t"):
                i += 1
            found.append((envelope, b"\n".join(lines[i:]).removesuffix(b"\n")))
        return found


def start_sink(*options: str) -> Iterator[Sink]:
    """Postfix's smtp-sink on a free port, storing every message it accepts."""
    # Not under pytest's tmp_path: as root, smtp-sink runs as nobody, who must be able
    # to reach the directory, and pytest's base directory is private to root.
    base = Path(tempfile.mkdtemp(prefix="scam-milter-sink-"))
    base.chmod(0o755)
    directory = base / "dumps"
    directory.mkdir()
    user: list[str] = []
    if os.geteuid() == 0:
        # smtp-sink refuses to run as root; it writes its dumps as that user.
        user = ["-u", "nobody"]
        shutil.chown(directory, "nobody")
    port = free_port()
    process = subprocess.Popen(
        [str(SMTP_SINK), *user, *options, "-d", f"{directory}/%M.", f"127.0.0.1:{port}", "16"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port)
        yield Sink(port, directory)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sink() -> Iterator[Sink]:
    yield from start_sink()


@pytest.fixture
def qdir(tmp_path: Path) -> Path:
    return tmp_path / "quarantine"


@pytest.fixture
def store(qdir: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(qdir) as s:
        yield s


def hold(store: QuarantineStore, raw: bytes = RAW, subject: str = "Ik heb je gefilmd") -> str:
    return store.put(raw, ENVELOPE, VERDICT, subject, auth=AUTH).id


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


# --- the whole review: list, show, release once, delete, purge ------------------------------------


def test_held_message_listed_shown_released_once_deleted_and_purged(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore, sink: Sink
) -> None:
    q = ("--quarantine-dir", str(qdir))
    entry_id = hold(store)

    # list: the table and the JSON lines.
    run = cli(capsysbinary, "list", *q)
    assert run.code == 0
    header, row = run.text.splitlines()
    assert header.split()[:3] == ["ID", "TIME", "(UTC)"]
    assert entry_id in row and "held" in row and "anon@example.org" in row
    assert "victim@example.net +1" in row
    assert "SEXTORT_WEBCAM_NL,PAY_BTC" in row
    (line,) = cli(capsysbinary, "list", "--json", *q).text.splitlines()
    listed = json.loads(line)
    assert (listed["id"], listed["status"], listed["score"]) == (entry_id, "held", 13.0)

    # show: summary, every rule with its evidence, auth, headers, history.
    shown = cli(capsysbinary, "show", entry_id, *q)
    assert shown.code == 0
    text = shown.text
    assert "SEXTORT_WEBCAM_NL +8" in text and '"gefilmd via je webcam"' in text
    assert "PAY_BTC +5" in text and '"bitcoin"' in text
    assert "subject:    Ik heb je gefilmd" in text
    assert "sender:     <anon@example.org> SIZE=" in text
    assert "<other@example.net> ORCPT=rfc822;Other@example.net" in text
    assert "spf: softfail" in text and '"domain": "example.org"' in text
    assert "  Subject: =?utf-8?q?Ik_heb_je_gefilmd?=" in text  # the raw header lines
    assert re.search(r"held +by \S+", text)
    as_json = json.loads(cli(capsysbinary, "show", entry_id, "--json", *q).out)
    assert as_json["rules"][0]["evidence"] == ["gefilmd via je webcam"]
    assert as_json["auth"] == AUTH
    assert "To: victim@example.net" in as_json["headers"]

    # release: through smtp-sink, with the original envelope and a header saying so.
    hop = ("--next-hop", f"127.0.0.1:{sink.port}")
    run = cli(capsysbinary, "release", entry_id, *hop, *q)
    assert run.code == 0, run.err
    assert run.text.startswith(f"released {entry_id} to victim@example.net, other@example.net")
    ((envelope, delivered),) = sink.dumps()
    mail_args = envelope["X-Mail-Args"][0]
    assert mail_args.startswith("<anon@example.org> SIZE=")
    assert "BODY=8BITMIME ENVID=QuEuE-7" in mail_args
    assert envelope["X-Rcpt-Args"] == [
        "<victim@example.net> NOTIFY=NEVER",
        "<other@example.net> ORCPT=rfc822;Other@example.net",
    ]
    user = pwd.getpwuid(os.geteuid()).pw_name
    first, _, rest = delivered.partition(b"\n")
    assert re.fullmatch(
        rb"X-Scam-Released: by " + user.encode() + rb" at \w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000",
        first,
    )
    # Unchanged but for the forged verdict header, which is removed as the proxy does.
    assert rest == lf(RAW).replace(b"X-Scam-Verdict: accept\n", b"")
    size = int(mail_args.split("SIZE=")[1].split()[0])
    assert size == len(RAW) - len(b"X-Scam-Verdict: accept\r\n") + len(first) + 2
    assert store.record(entry_id).entry.status is Status.RELEASED

    # A second release is refused, and nothing more reaches the next hop.
    run = cli(capsysbinary, "release", entry_id, *hop, *q)
    assert run.code == 1
    assert "already released" in one_error_line(run) and "--force" in run.err
    assert len(sink.dumps()) == 1
    history = cli(capsysbinary, "show", entry_id, *q).text
    assert re.search(rf"released +by {user} \(to: victim@example.net, other@example.net;", history)

    # --force and --to: once more, to another recipient only.
    run = cli(capsysbinary, "release", entry_id, "--force", "--to", "admin@example.net", *hop, *q)
    assert run.code == 0, run.err
    envelope, _ = sink.dumps()[1]
    assert envelope["X-Rcpt-Args"] == ["<admin@example.net>"]

    # delete: the message file goes, the record and its history stay.
    run = cli(capsysbinary, "delete", entry_id, *q)
    assert (run.code, run.text) == (0, f"deleted {entry_id}\n")
    assert not (qdir / "msg" / f"{entry_id}.eml").exists()
    shown = cli(capsysbinary, "show", entry_id, *q)
    assert "status:     deleted" in shown.text and "its content is gone" in shown.text
    assert [e.status for e in store.record(entry_id).events] == [
        Status.HELD,
        Status.RELEASED,
        Status.RELEASED,
        Status.DELETED,
    ]
    run = cli(capsysbinary, "delete", entry_id, *q)
    assert run.code == 1 and "was deleted" in one_error_line(run)
    run = cli(capsysbinary, "release", entry_id, *hop, *q)
    assert run.code == 1 and "was deleted" in one_error_line(run)
    run = cli(capsysbinary, "show", entry_id, "--raw", *q)
    assert run.code == 1 and run.out == b""
    (line,) = cli(capsysbinary, "list", "--json", "--status", "deleted", *q).text.splitlines()
    assert json.loads(line)["id"] == entry_id

    # purge: another held message expires; the deletion's record is forgotten.
    other = hold(store)
    run = cli(capsysbinary, "purge", "--older-than", "0s", *q)
    assert run.code == 0
    assert run.text.startswith("1 expired, 1 old records removed")
    assert not (qdir / "msg" / f"{other}.eml").exists()
    (line,) = cli(capsysbinary, "list", "--json", *q).text.splitlines()
    assert (json.loads(line)["id"], json.loads(line)["status"]) == (other, "expired")
    assert len(sink.dumps()) == 2  # nothing more was delivered on the way


def test_failed_release_leaves_the_message_held(
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
    qdir: Path,
    store: QuarantineStore,
) -> None:
    entry_id = hold(store)
    q = ("--quarantine-dir", str(qdir))
    # Nobody listens: one line, exit 1, still held.
    run = cli(capsysbinary, "release", entry_id, "--next-hop", f"127.0.0.1:{free_port()}", *q)
    assert run.code == 1
    assert "stays held" in one_error_line(run)
    assert store.record(entry_id).entry.status is Status.HELD
    # A next hop that refuses a recipient (4xx): nothing is sent to the other one either.
    refusing = start_sink("-r", "RCPT")
    sink = next(refusing)
    try:
        run = cli(capsysbinary, "release", entry_id, "--next-hop", f"127.0.0.1:{sink.port}", *q)
        assert run.code == 1
        line = one_error_line(run)
        assert "RCPT TO:<victim@example.net>" in line and " 450 " in line
        assert sink.dumps() == []
    finally:
        refusing.close()
    assert store.record(entry_id).entry.status is Status.HELD
    assert [e.status for e in store.record(entry_id).events] == [Status.HELD]


def test_release_uses_the_next_hop_and_directory_from_the_config(
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
    qdir: Path,
    store: QuarantineStore,
    sink: Sink,
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        f"quarantine_dir: {qdir}\nnext_hop: 127.0.0.1:{sink.port}\n"
        "headers: {verdict: X-Our-Verdict}\n",
        encoding="utf-8",
    )
    raw = RAW.replace(b"X-Scam-Verdict", b"X-Our-Verdict")
    entry_id = hold(store, raw)
    # The options work before the subcommand too.
    run = cli(capsysbinary, "--config", str(config), "release", entry_id)
    assert run.code == 0, run.err
    ((_, delivered),) = sink.dumps()
    assert b"X-Our-Verdict" not in delivered  # the configured name is the one removed


# --- exact bytes, big and odd ---------------------------------------------------------------------


def show_raw_subprocess(qdir: Path, entry_id: str) -> bytes:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "milter.cli", "quarantine", "show", "--raw", entry_id),
            *("--quarantine-dir", str(qdir)),
        ],
        capture_output=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_nul_bytes_bare_lf_and_cr_come_back_byte_for_byte(
    qdir: Path, store: QuarantineStore
) -> None:
    raw = (
        b"From: a@example.org\nSubject: odd\r\n\r\nbare lf\nbare cr\rnul \x00 here\r\n"
        b"\xff\xfe 8-bit \x80\r\n.\r\nno final newline"
    )
    entry_id = hold(store, raw)
    assert show_raw_subprocess(qdir, entry_id) == raw


def test_25_mb_message_comes_back_byte_for_byte(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore
) -> None:
    line = bytes(range(32, 127)) + b"\r\n"
    body = line * (25 * 1024 * 1024 // len(line) + 1)
    raw = b"From: a@example.org\r\nSubject: big\r\n\r\n" + body
    assert len(raw) > 25 * 1024 * 1024
    entry_id = hold(store, raw)
    run = cli(capsysbinary, "show", "--raw", entry_id, "--quarantine-dir", str(qdir))
    assert run.code == 0
    assert len(run.out) == len(raw)
    assert hashlib.sha256(run.out).digest() == hashlib.sha256(raw).digest()
    listed = cli(capsysbinary, "list", "--json", "--quarantine-dir", str(qdir))
    assert json.loads(listed.out)["size"] == len(raw)


def test_permissions_stay_private_through_every_command(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore, sink: Sink
) -> None:
    q = ("--quarantine-dir", str(qdir))
    released, deleted, kept = hold(store), hold(store), hold(store)
    hop = ("--next-hop", f"127.0.0.1:{sink.port}")
    assert cli(capsysbinary, "release", released, *hop, *q).code == 0
    assert cli(capsysbinary, "delete", deleted, *q).code == 0
    assert cli(capsysbinary, "stats", *q).code == 0
    for directory in (qdir, qdir / "tmp", qdir / "msg", qdir / "meta"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert {p.name for p in qdir.glob("msg/*")} == {f"{released}.eml", f"{kept}.eml"}
    assert len(list(qdir.glob("meta/*"))) == 3
    files = [*qdir.glob("msg/*"), *qdir.glob("meta/*"), *qdir.glob("index.sqlite3*")]
    assert qdir / "index.sqlite3" in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_store_open_to_others_is_refused(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path
) -> None:
    QuarantineStore(qdir).close()
    qdir.chmod(0o777)
    run = cli(capsysbinary, "list", "--quarantine-dir", str(qdir))
    assert run.code == 2
    assert "writable by group or others" in one_error_line(run)


# --- list, stats ---------------------------------------------------------------------------------


def test_list_filters_limit_and_the_note_about_more(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore
) -> None:
    ids = [hold(store) for _ in range(4)]
    other = store.put(
        RAW,
        Envelope(mail_from="boss@corp.example", rcpt_to=("ceo@corp.example",)),
        Verdict(Action.REJECT, 20.0, (RuleHit("GOV_POLICE_BE", 20.0, ("federale politie",)),)),
        "Dagvaarding",
    ).id
    q = ("--quarantine-dir", str(qdir))

    def listed(*args: str) -> list[str]:
        run = cli(capsysbinary, "list", "--json", *args, *q)
        assert run.code == 0, run.err
        return [json.loads(line)["id"] for line in run.text.splitlines()]

    assert listed("--rule", "GOV_POLICE_BE") == [other]
    assert listed("--rule", "gov_*") == [other]
    assert listed("--sender", "@corp.example") == [other]
    assert listed("--rcpt", "Victim@Example.net") == list(reversed(ids))
    assert listed("--verdict", "reject") == [other]
    assert listed("--status", "released") == []
    assert listed("--since", "1h") == [other, *reversed(ids)]
    assert listed("--until", "2000-01-01") == []
    assert listed("--since", "2000-01-01T00:00:00Z", "--limit", "2") == [other, ids[3]]
    assert len(listed("--limit", "all")) == 5

    run = cli(capsysbinary, "list", "--limit", "2", *q)
    assert len(run.text.splitlines()) == 3  # header + 2
    assert "--limit" in run.err  # says there are more
    assert cli(capsysbinary, "list", *q).err == ""


def test_stats_text_and_json(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore
) -> None:
    a, _ = hold(store), hold(store)
    store.delete(a)
    q = ("--quarantine-dir", str(qdir))
    run = cli(capsysbinary, "stats", *q)
    assert run.code == 0
    assert ": 2 messages held" in run.text
    assert "by verdict: quarantine 2" in run.text
    assert "by status:  deleted 1, held 1" in run.text
    assert re.search(r"^\s+2  PAY_BTC$", run.text, re.M)
    data = json.loads(cli(capsysbinary, "stats", "--json", "--since", "30d", *q).out)
    assert data["total"] == 2
    assert data["by_verdict"] == {"quarantine": 2}
    assert data["by_rule"] == [
        {"id": "PAY_BTC", "count": 2},
        {"id": "SEXTORT_WEBCAM_NL", "count": 2},
    ]
    assert data["changes"] == {"held": 2, "deleted": 1}
    assert json.loads(cli(capsysbinary, "stats", "--json", "--until", "1h", *q).out)["total"] == 0


# --- bad input: one line, exit 2, nothing done -------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["../../../../etc/passwd", "a/b", "", "0" * 25 + "A", "0" * 27, "-", "..", "/tmp"]
)
@pytest.mark.parametrize("command", ["show", "delete", "release"])
def test_ids_that_are_not_ids_are_one_line_and_exit_2(
    capsysbinary: pytest.CaptureFixture[bytes],
    qdir: Path,
    store: QuarantineStore,
    command: str,
    bad: str,
) -> None:
    good = hold(store)
    # With a valid id first: nothing is done when any id is bad.
    ids = [bad] if command == "show" else [good, bad]
    run = cli(capsysbinary, command, "--quarantine-dir", str(qdir), "--", *ids)
    assert run.code == 2
    assert "is not a quarantine id" in one_error_line(run)
    assert run.out == b""
    assert store.record(good).entry.status is Status.HELD


def test_unknown_id_is_exit_2_and_the_others_are_still_done(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore
) -> None:
    good = hold(store)
    unknown = "0" * 26
    q = ("--quarantine-dir", str(qdir))
    run = cli(capsysbinary, "show", unknown, *q)
    assert run.code == 2
    assert "no quarantined message has id" in one_error_line(run)
    run = cli(capsysbinary, "delete", unknown, good, *q)
    assert run.code == 2
    assert "no quarantined message has id" in one_error_line(run)
    assert run.text == f"deleted {good}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--since", "yesterday"], "not a duration"),
        (["list", "--limit", "0"], "must be 1 or more"),
        (["list", "--status", "gone"], "invalid choice"),
        (["purge", "--older-than", "30"], "not a duration"),
        (["purge"], "purge needs --older-than"),
        (["release", "0" * 26, "--to", "not an address"], "not a mail address"),
        # Control characters would go out in our RCPT TO (issue 10).
        (["release", "0" * 26, "--to", "a\x01b@example.com"], "not a mail address"),
        (["release", "0" * 26, "--to", "ab@example.com\x7f"], "not a mail address"),
        (["release", "0" * 26, "--to", "a\x1b[2Jb@example.com"], "not a mail address"),
        (["release", "0" * 26, "--to", "a@exa mple.com"], "not a mail address"),
        (["release", "0" * 26, "--to", "a@b@example.com"], "not a mail address"),
        (["release", "0" * 26, "--next-hop", "nohost"], "HOST:PORT"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsysbinary: pytest.CaptureFixture[bytes],
    qdir: Path,
    store: QuarantineStore,
    argv: list[str],
    message: str,
) -> None:
    run = cli(capsysbinary, *argv, "--quarantine-dir", str(qdir))
    assert run.code == 2
    assert message in one_error_line(run)


def test_purge_takes_the_retention_from_the_config(
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
    qdir: Path,
    store: QuarantineStore,
) -> None:
    entry_id = hold(store)
    config = tmp_path / "config.yml"
    config.write_text(f"quarantine_dir: {qdir}\nquarantine: {{retention: 1h}}\n", encoding="utf-8")
    run = cli(capsysbinary, "purge", "--config", str(config))
    assert run.code == 0 and run.text.startswith("0 expired")
    assert store.record(entry_id).entry.status is Status.HELD


def test_missing_directory_is_exit_2_and_not_created(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    run = cli(capsysbinary, "list", "--quarantine-dir", str(tmp_path / "nope"))
    assert run.code == 2
    assert "does not exist" in one_error_line(run)
    assert not (tmp_path / "nope").exists()


def test_released_message_drops_forged_verdict_and_auth_headers() -> None:
    from datetime import UTC, datetime

    from milter.config import HeaderNames
    from milter.quarantine.release import released_message

    raw = (
        b"X-Scam-Verdict: accept\r\n"
        b"x-scam-whatever: forged\r\n"  # any field under the prefix (issue 10)
        b"X-Scam-Released: by nobody\r\n"
        b"Authentication-Results: MX.example.org; dmarc=pass header.from=police.be\r\n"
        b"Authentication-Results: upstream.example; spf=pass\r\n"
        b"From: a@example.org\r\n\r\nbody\r\n"
    )
    out = released_message(
        raw, "admin", datetime(2026, 11, 27, tzinfo=UTC), HeaderNames(), "mx.example.org"
    )
    first, rest = out.split(b"\r\n", 1)
    assert first.startswith(b"X-Scam-Released: by admin at ")
    assert rest == (
        b"Authentication-Results: upstream.example; spf=pass\r\nFrom: a@example.org\r\n\r\nbody\r\n"
    )


# --- reindex: the recovery path for a lost or damaged index ------------------------------------


def quarantine_subprocess(qdir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`scam-milter quarantine ARGV… --quarantine-dir QDIR` as its own process."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "milter.cli", "quarantine", *argv),
            *("--quarantine-dir", str(qdir)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
        check=False,
    )


def listed(qdir: Path) -> list[dict[str, object]]:
    run = quarantine_subprocess(qdir, "list", "--json", "--limit", "all")
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


@pytest.mark.parametrize("damage", ["deleted", "corrupt"])
def test_reindex_rebuilds_a_lost_or_corrupt_index_from_the_meta_files(
    qdir: Path, store: QuarantineStore, damage: str
) -> None:
    held = [hold(store, subject=f"message {n}") for n in range(3)]
    store.delete(held[0])
    store.close()
    before = listed(qdir)
    assert {e["id"]: e["status"] for e in before} == {
        held[0]: "deleted",
        held[1]: "held",
        held[2]: "held",
    }
    index = qdir / "index.sqlite3"
    for name in ("index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"):
        (qdir / name).unlink(missing_ok=True)
    if damage == "corrupt":
        index.write_bytes(b"not a database, " * 512)
        index.chmod(0o600)

    run = quarantine_subprocess(qdir, "reindex")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.splitlines() == [
        "index rebuilt from the meta files: 3 entries (2 held, 0 released, 1 deleted, 0 expired)"
    ]
    assert listed(qdir) == before
    if damage == "corrupt":
        # Kept for a post-mortem, not deleted.
        assert (qdir / "index.sqlite3.corrupt").read_bytes().startswith(b"not a database")


def test_reindex_of_a_stale_index_adds_what_it_lacked(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore
) -> None:
    kept, lost = hold(store), hold(store)
    store.close()
    db = sqlite3.connect(qdir / "index.sqlite3")
    with db:
        for table in ("entries", "entry_rules", "entry_rcpts", "events"):
            db.execute(f"DELETE FROM {table} WHERE id = ?", (lost,))
    db.close()
    run = cli(capsysbinary, "reindex", "--quarantine-dir", str(qdir))
    assert run.code == 0, run.err
    assert run.text.startswith("index rebuilt from the meta files: 2 entries (2 held,")
    run = cli(capsysbinary, "list", "--json", "--quarantine-dir", str(qdir))
    assert {json.loads(line)["id"] for line in run.text.splitlines()} == {kept, lost}


def test_reindex_errors_are_one_line_and_exit_2(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, qdir: Path, store: QuarantineStore
) -> None:
    run = cli(capsysbinary, "reindex", "--quarantine-dir", str(tmp_path / "nope"))
    assert run.code == 2
    assert "does not exist" in one_error_line(run)

    hold(store)
    store.close()
    for name in ("index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"):
        (qdir / name).unlink(missing_ok=True)
    (qdir / "index.sqlite3").mkdir()  # something in the way that no rebuild can replace
    run = cli(capsysbinary, "reindex", "--quarantine-dir", str(qdir))
    assert run.code == 2
    assert "cannot open quarantine index" in one_error_line(run)
    assert run.out == b""


def test_reindex_refuses_to_downgrade_a_newer_index(
    capsysbinary: pytest.CaptureFixture[bytes], qdir: Path, store: QuarantineStore
) -> None:
    hold(store)
    store.close()
    db = sqlite3.connect(qdir / "index.sqlite3")
    with db:
        db.execute("UPDATE schema_version SET version = 99")
    db.close()
    run = cli(capsysbinary, "reindex", "--quarantine-dir", str(qdir))
    assert run.code == 2
    assert "newer than this scam-milter supports" in one_error_line(run)
