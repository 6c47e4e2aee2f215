"""The command line: output, JSON shape, exit codes, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RULE = """\
- id: TEST_WEBCAM_BTC
  description: webcam claim with bitcoin
  score: 12
  tags: [test]
  matchers:
    claim:
      target: body
      regex: 'recorded you.{0,30}webcam'
    pay:
      target: body
      phrases: [bitcoin]
  condition: claim and pay
  examples:
    must_match:
      - body: I recorded you with your webcam. Pay in bitcoin.
    must_not_match:
      - body: Your webcam driver was updated. Bitcoin price news.
"""

SCAM = b"""\
From: Anon <anon@example.org>
To: victim@example.net
Subject: your secret
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

I r\xd0\xb5corded you through your webcam. Pay in bitcoin.
"""

HAM = b"""\
From: Alice <alice@example.org>
To: bob@example.net
Subject: lunch

Lunch at noon?
"""


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "milter.cli", *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "test.yml").write_text(RULE, encoding="utf-8")
    return directory


@pytest.fixture
def mails(tmp_path: Path) -> Path:
    directory = tmp_path / "mail"
    directory.mkdir()
    (directory / "scam.eml").write_bytes(SCAM)
    (directory / "ham.eml").write_bytes(HAM)
    return directory


def test_check_json(rules: Path, mails: Path) -> None:
    result = run("check", "--json", "--offline", "--rules", str(rules), str(mails))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_file = {Path(obj["file"]).name: obj for obj in lines}
    scam = by_file["scam.eml"]
    assert scam["verdict"] == "quarantine"
    assert scam["score"] == 12
    assert scam["auth"]["checked"] is False
    assert scam["auth"]["spf"]["result"] == scam["auth"]["dmarc"]["result"] == "unavailable"
    (rule,) = scam["rules"]
    assert rule["id"] == "TEST_WEBCAM_BTC"
    assert rule["score"] == 12
    # Evidence quotes the original text, homoglyph and all.
    assert "r\u0435corded you through your webcam" in rule["evidence"]
    assert by_file["ham.eml"]["verdict"] == "accept"
    assert by_file["ham.eml"]["rules"] == []


def test_check_text_and_stdin(rules: Path) -> None:
    result = run("check", "--rules", str(rules), "-", stdin=SCAM)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("-: quarantine (score 12)\n  TEST_WEBCAM_BTC +12\n")


def test_unreadable_file_is_one_line_and_others_are_scanned(rules: Path, mails: Path) -> None:
    missing = mails / "missing.eml"
    result = run("check", "--json", "--rules", str(rules), str(missing), str(mails / "scam.eml"))
    assert result.returncode == 2
    assert (
        result.stderr == f"scam-milter: error: cannot read {missing}: No such file or directory\n"
    )
    assert json.loads(result.stdout)["verdict"] == "quarantine"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("check",), "the following arguments are required"),
        (("frobnicate",), "invalid choice"),
        (
            ("check", "--config", "/nonexistent.yml", "x"),
            "cannot read config file /nonexistent.yml",
        ),
    ],
)
def test_bad_usage_is_one_line(args: tuple[str, ...], words: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("scam-milter: error: ")
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_key(tmp_path: Path, rules: Path, mails: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("thresholds:\n  tag: 5\n  quarantin: 10\n", encoding="utf-8")
    result = run("check", "--config", str(config), "--rules", str(rules), str(mails))
    assert result.returncode == 2
    assert result.stderr == (
        f"scam-milter: error: {config}: thresholds: unknown key 'quarantin' "
        "(known: tag, quarantine, reject)\n"
    )


def test_config_thresholds_change_the_verdict(tmp_path: Path, rules: Path, mails: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("thresholds: {tag: 5, quarantine: 10, reject: 11}\n", encoding="utf-8")
    result = run(
        "check", "--json", "--config", str(config), "--rules", str(rules), str(mails / "scam.eml")
    )
    assert json.loads(result.stdout)["verdict"] == "reject"


def test_broken_rule_file_stops_check(tmp_path: Path, mails: Path) -> None:
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "bad.yml").write_text(
        RULE.replace("target: body\n      phrases", "target: bdy\n      phrases")
    )
    result = run("check", "--rules", str(directory), str(mails))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"scam-milter: error: {directory / 'bad.yml'}:10: rule TEST_WEBCAM_BTC: "
    )
    assert result.stdout == ""


def test_lint_passes_good_rules(rules: Path) -> None:
    result = run("rules", "lint", str(rules))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 rules, 2 examples checked, 0 problem(s)\n"


def test_lint_reports_broken_file_and_failing_example(tmp_path: Path) -> None:
    directory = tmp_path / "lint"
    directory.mkdir()
    (directory / "a.yml").write_text(RULE.replace("score: 12", "score: twelve"), encoding="utf-8")
    wrong_example = RULE.replace("TEST_WEBCAM_BTC", "TEST_OTHER").replace(
        "Pay in bitcoin.\n    must_not", "Pay in cash.\n    must_not"
    )
    (directory / "b.yml").write_text(wrong_example, encoding="utf-8")
    result = run("rules", "lint", str(directory))
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(
        f"{directory / 'a.yml'}:3: rule TEST_WEBCAM_BTC: score must be a number"
    )
    assert errors[1].startswith(
        f"{directory / 'b.yml'}:1: rule TEST_OTHER: does not match its must_match example #1"
    )
    assert result.stdout == "1 rules, 2 examples checked, 2 problem(s)\n"


def test_lint_shipped_rules() -> None:
    result = run("rules", "lint")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(" 0 problem(s)\n")


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("scam-milter ")


def test_scan_bytes_that_are_not_a_message(rules: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(bytes(range(256)) * 10)
    result = run("check", "--json", "--rules", str(rules), str(junk))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "accept"


def test_check_says_when_the_scan_read_only_part(rules: Path, tmp_path: Path) -> None:
    # 600 filled parts: past the part limit, the middle ones are not read.
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.helpers.limit_cases import after_parts

    path = tmp_path / "many.eml"
    path.write_bytes(after_parts(600, "filler"))
    result = run("check", "--json", "--offline", "--rules", str(rules), str(path))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["partial"] and obj["verdict"] != "accept"
    text = run("check", "--offline", "--rules", str(rules), str(path))
    assert "  partial read: " in text.stdout
    ham = tmp_path / "ham.eml"
    ham.write_bytes(HAM)
    assert json.loads(run("check", "--json", "--offline", str(ham)).stdout)["partial"] == []
