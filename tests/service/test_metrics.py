"""`serve --metrics`: Prometheus text at /metrics, summed over the workers, read by
prometheus_client's own parser and checked against the verdict log of the same run."""

from __future__ import annotations

import collections
import os
import signal
import smtplib
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from milter.auth.dns import DnsAnswer, DnsClient
from milter.milterproto import packets as p
from tests.helpers.postfix_harness import free_port
from tests.helpers.serve_process import ROOT, ServeProcess, Sink, running_sink
from tests.helpers.word_rules import WORD_RULES
from tests.service.test_milter_front import OPTNEG, conversation, talk
from tests.service.test_serve import children

# A run of mixed mail: accepted, tagged, held; "rejectme" is held too after the queue.
BODIES = ["hello"] * 5 + ["tagme"] * 4 + ["holdme"] * 3 + ["rejectme"] * 2


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as found:
        yield found


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(WORD_RULES, encoding="utf-8")
    return path


def serve(
    tmp_path: Path, next_hop: int, rules: Path, workers: int, extra: str = ""
) -> tuple[ServeProcess, int]:
    port = free_port()
    served = ServeProcess(
        tmp_path,
        next_hop=next_hop,
        rules=[rules],
        extra_config=(
            f"smtp: {{workers: {workers}}}\nauth: {{enabled: false}}\n"
            f"metrics: 127.0.0.1:{port}\n{extra}"
        ),
        # The metrics directory is made under TMPDIR: here, where the test can look.
        extra_env={"TMPDIR": str(tmp_path)},
    ).start()
    return served, port


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of /metrics: {sample name: {sorted labels: value}}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode("utf-8")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def send(port: int, body: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(
            "alice@example.org",
            ["bob@example.net"],
            f"From: alice@example.org\r\nSubject: t\r\n\r\n{body}\r\n".encode(),
        )


def check_against_the_log(samples: dict, verdicts: list[dict], *, relayed: bool) -> None:
    """The counters say what the verdict lines say, message for message."""
    by_outcome = collections.Counter((v["verdict"] or "none", v["action"]) for v in verdicts)
    counted = {
        (dict(labels)["verdict"], dict(labels)["action"]): value
        for labels, value in samples["scam_milter_messages_total"].items()
    }
    assert counted == by_outcome
    hits = collections.Counter(rule for v in verdicts for rule in v["rules"])
    counted_hits = {dict(k)["rule"]: v for k, v in samples["scam_milter_rule_hits_total"].items()}
    assert counted_hits == hits
    assert samples["scam_milter_scan_seconds_count"][()] == len(verdicts)
    held = sum(1 for v in verdicts if v["action"] == "quarantine")
    assert samples["scam_milter_quarantine_entries"][(("status", "held"),)] == held
    if relayed:
        sent = sum(1 for v in verdicts if v["action"] in ("accept", "tag"))
        assert samples["scam_milter_relay_seconds_count"][()] == sent
        failures = samples["scam_milter_relay_failures_total"]
        assert failures == {(("step", "mail"),): 0, (("step", "data"),): 0}
    # auth is off in these runs: no checks timed, no DNS asked.
    assert samples["scam_milter_auth_seconds_count"][()] == 0
    assert samples["scam_milter_dns_cache_hits_total"][()] == 0


def test_metrics_of_two_workers_match_the_verdict_log(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    served, metrics_port = serve(tmp_path, sink[1], rules, workers=2)
    try:
        (directory,) = tmp_path.glob("scam-milter-metrics-*")
        assert directory.stat().st_mode & 0o777 == 0o700  # private: mkdtemp
        # Four clients at once, so that both workers take sessions.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda body: send(served.port, body), BODIES))
        verdicts = served.wait_verdicts(len(BODIES))
        assert collections.Counter(v["action"] for v in verdicts) == {
            "accept": 5,
            "tag": 4,
            "quarantine": 5,
        }
        samples = scrape(metrics_port)
        check_against_the_log(samples, verdicts, relayed=True)
        assert len(sink[0].messages) == 9
        # Each worker writes its own files, named by its pid; the scrape summed them.
        pids = {path.stem.rpartition("_")[2] for path in directory.glob("*.db")}
        assert len(pids) == 2
        # Anything but GET /metrics is refused, and the worker serves on.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=10)
        assert refused.value.code == 404
        assert scrape(metrics_port) == samples
    finally:
        code = served.stop()
    assert code == 0
    assert not directory.exists()  # removed as the service stops


def test_counts_outlive_the_workers_that_made_them(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    # Both workers killed (the one answering scrapes among them) and replaced: their
    # files stay, so the counts still match the log, and the new worker 0 answers.
    served, metrics_port = serve(tmp_path, sink[1], rules, workers=2)
    try:
        for body in ["hello", "tagme", "holdme"]:
            send(served.port, body)
        verdicts = served.wait_verdicts(3)
        assert served.process is not None
        for pid in children(served.process.pid):
            os.kill(int(pid), signal.SIGKILL)
        served.wait_line(r"starting another", count=2)
        served.wait_line(r"^INFO listening on ", count=4, timeout=30)
        check_against_the_log(scrape(metrics_port), verdicts, relayed=True)
        send(served.port, "tagme")
        verdicts = served.wait_verdicts(4)
        check_against_the_log(scrape(metrics_port), verdicts, relayed=True)
    finally:
        assert served.stop() == 0


def test_single_process_serve_has_metrics_too(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    served, metrics_port = serve(tmp_path, sink[1], rules, workers=1)
    try:
        for body in ["hello", "tagme", "holdme"]:
            send(served.port, body)
        verdicts = served.wait_verdicts(3)
        check_against_the_log(scrape(metrics_port), verdicts, relayed=True)
    finally:
        assert served.stop() == 0


def test_relay_failures_are_counted(tmp_path: Path, rules: Path) -> None:
    # No next hop: every MAIL is answered 451 and counted, for the alert in docs/metrics.md.
    served, metrics_port = serve(tmp_path, free_port(), rules, workers=1)
    try:
        for _ in range(2):
            with (
                smtplib.SMTP("127.0.0.1", served.port, timeout=30) as client,
                pytest.raises(smtplib.SMTPSenderRefused),
            ):
                client.sendmail(
                    "alice@example.org", ["bob@example.net"], b"Subject: t\r\n\r\nx\r\n"
                )
        failures = scrape(metrics_port)["scam_milter_relay_failures_total"]
        assert failures == {(("step", "mail"),): 2, (("step", "data"),): 0}
    finally:
        assert served.stop() == 0


def test_milter_front_counts_the_same(tmp_path: Path, rules: Path) -> None:
    served, metrics_port = serve(
        tmp_path,
        1,
        rules,
        workers=2,
        extra="protocol: milter\n",  # a milter relays nothing
    )
    try:
        answers = {
            b"hello": [p.continue_()],
            b"holdme": [p.discard()],
        }
        for body, expected in [*answers.items(), (b"hello", [p.continue_()])]:
            assert talk(served.port, OPTNEG + conversation(body + b"\r\n"))[1:] == expected
        talk(served.port, OPTNEG + conversation(b"tagme\r\n"))
        verdicts = served.wait_verdicts(4)
        check_against_the_log(scrape(metrics_port), verdicts, relayed=False)
    finally:
        assert served.stop() == 0


def test_a_bad_metrics_address_is_one_line(tmp_path: Path, rules: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]
    config = tmp_path / "config.yml"
    q = tmp_path / "q"
    try:
        cases = [
            ("metrics: nowhere\n", (), "metrics must be HOST:PORT, got 'nowhere'"),
            ("", ("--metrics", "nowhere"), "--metrics must be HOST:PORT"),
            (
                f"metrics: 127.0.0.1:{taken}\n",
                (),
                f"cannot listen for metrics on 127.0.0.1:{taken}: Address already in use",
            ),
        ]
        for text, flags, words in cases:
            config.write_text(f"rules: [{rules}]\n{text}", encoding="utf-8")
            listen = f"127.0.0.1:{free_port()}"
            args = ["--config", str(config), *flags, "--listen", listen]
            done = subprocess.run(
                [sys.executable, "-m", "milter.cli", "serve", *args, "--quarantine-dir", str(q)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 2, done.stderr
            errors = [line for line in done.stderr.splitlines() if "error" in line]
            assert len(errors) == 1, done.stderr
            assert errors[0].startswith("scam-milter: error: ") and words in errors[0], errors[0]
            assert "Traceback" not in done.stderr
    finally:
        busy.close()


class FixedDns(DnsClient):
    """Every name has one TXT record, for a minute; no network."""

    def _fetch(self, name: str, rdtype: str, lifetime: float) -> tuple[DnsAnswer, float]:
        return DnsAnswer(name, rdtype, ((b"v=spf1 -all",),)), 60.0


def test_dns_cache_hits_are_counted_once_each() -> None:
    # What the judge adds to scam_milter_dns_cache_hits_total after each authentication:
    # hits of the client and of its cache-only view (the checks run on the loop), once.
    client = FixedDns()
    client.txt("example.org")  # from the "network"
    client.txt("example.org")
    client.cache_only().txt("example.org")
    assert client.take_cache_hits() == 2
    assert client.take_cache_hits() == 0
    assert client.lookups == 1
