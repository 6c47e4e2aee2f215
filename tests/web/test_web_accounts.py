"""``scam-milter web adduser|deluser|passwd``, the users file and its password hashes."""

from __future__ import annotations

import base64
import io
import json
import stat
import sys
from pathlib import Path

import pytest

from milter.cli.main import main
from milter.web.accounts import Role, UsersFile, hash_password, verify_password
from milter.web.sessions import key_path, load_or_create_key

SECRET = "Tr0ub4dor&3 horse"


def web(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["web", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_adduser_stores_a_scrypt_hash_in_a_0600_file_never_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    code, out, err = web(
        capsys, monkeypatch, "adduser", "alice", "--users-file", str(path), "--role",
        "reviewer", stdin=SECRET + "\n",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"added alice (reviewer) to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert SECRET not in text and SECRET.encode().hex() not in text
    stored = json.loads(text)["users"]["alice"]
    assert stored["role"] == "reviewer"
    scheme, n, r, p, salt, digest = stored["password"].split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert verify_password(SECRET, stored["password"])
    assert not verify_password(SECRET + "x", stored["password"])
    # No temporary file is left next to it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.json"]


def test_passwd_changes_the_hash_and_deluser_removes_the_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    users = UsersFile(path)
    users.add("bob", Role.VIEWER, SECRET)
    before = users.load()["bob"].password_hash
    code, out, _ = web(
        capsys, monkeypatch, "--users-file", str(path), "passwd", "bob", stdin="new password!\n"
    )
    assert (code, out) == (0, "changed the password of bob\n")
    after = users.load()["bob"]
    assert after.password_hash != before and verify_password("new password!", after.password_hash)
    assert after.role is Role.VIEWER
    code, out, _ = web(capsys, monkeypatch, "deluser", "bob", "--users-file", str(path))
    assert (code, out) == (0, f"removed bob from {path}\n")
    assert users.load() == {}


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (("adduser", "alice"), "short\n", "at least 8 characters"),
        (("adduser", "alice"), "", "no password on stdin"),
        (("adduser", "al ice"), SECRET + "\n", "is not a user name"),
        (("adduser", "<script>"), SECRET + "\n", "is not a user name"),
        (("adduser", "taken"), SECRET + "\n", "exists already"),
        (("deluser", "nobody"), "", "no user 'nobody'"),
        (("passwd", "nobody"), SECRET + "\n", "no user 'nobody'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    stdin: str,
    words: str,
) -> None:
    path = tmp_path / "users.json"
    UsersFile(path).add("taken", Role.VIEWER, SECRET)
    before = path.read_bytes()
    code, out, err = web(capsys, monkeypatch, *args, "--users-file", str(path), stdin=stdin)
    assert code == 2 and out == ""
    assert err.startswith("scam-milter: error: ") and words in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert path.read_bytes() == before


def test_a_bad_role_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    with pytest.raises(SystemExit) as exit_info:
        web(capsys, monkeypatch, "adduser", "a", "--role", "admin", "--users-file", str(path))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("scam-milter: error: ") and err.count("\n") == 1
    assert not path.exists()


def test_web_refuses_a_missing_or_open_users_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    args = ("--users-file", str(path), "--quarantine-dir", str(tmp_path))
    code, _, err = web(capsys, monkeypatch, *args)
    assert code == 2 and "no users file" in err and err.count("\n") == 1
    UsersFile(path).add("alice", Role.VIEWER, SECRET)
    path.chmod(0o644)
    code, _, err = web(capsys, monkeypatch, *args)
    assert code == 2 and "readable or writable by others" in err and err.count("\n") == 1


def test_the_session_key_is_made_once_0600(tmp_path: Path) -> None:
    path = key_path(tmp_path / "users.json")
    key = load_or_create_key(path)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_malformed_hashes_never_verify() -> None:
    good = hash_password(SECRET)
    for stored in ("", "plain", "scrypt$1$2$3", good.replace("scrypt", "md5"), good[:-4] + "!!!!"):
        assert not verify_password(SECRET, stored)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_password_is_asked_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    from milter.cli.web import read_password
    from milter.web.accounts import AccountError

    answers = iter([SECRET, SECRET, SECRET, SECRET + "!"])
    prompts: list[str] = []

    def fake_getpass(prompt: str, stream: object = None) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert read_password(Terminal(), io.StringIO()) == SECRET
    assert prompts == ["Password: ", "Password again: "]
    with pytest.raises(AccountError, match="the two passwords differ"):
        read_password(Terminal(), io.StringIO())


def test_web_refuses_a_missing_quarantine_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    UsersFile(path).add("alice", Role.VIEWER, SECRET)
    missing = tmp_path / "no-such-quarantine"
    code, _, err = web(
        capsys, monkeypatch, "--users-file", str(path), "--quarantine-dir", str(missing)
    )
    assert code == 2 and err.startswith("scam-milter: error: ") and err.count("\n") == 1
    assert str(missing) in err and not missing.exists()
