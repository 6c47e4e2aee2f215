"""The listening socket of `serve`: unix sockets for the milter (mode, group, a stale
file, a path in use), HOST:PORT for both, and the config that names them."""

from __future__ import annotations

import grp
import os
import socket
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from milter.config import Config, config_from_mapping, describe_listen, parse_listen
from milter.errors import ConfigError
from milter.service.sockets import check_listen, listening_socket, remove_socket_file


def milter_config(path: Path, **changes: object) -> Config:
    return replace(Config(), protocol="milter", listen=path, **changes)


def test_a_unix_socket_listens_with_the_mode_asked(tmp_path: Path) -> None:
    path = tmp_path / "milter.sock"
    config = milter_config(path, milter_socket_mode=0o600)
    with listening_socket(config) as sock:
        assert stat.S_ISSOCK(path.lstat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(path))
            accepted, _ = sock.accept()
            accepted.close()
    remove_socket_file(config)
    assert not path.exists()


def test_the_socket_gets_the_group_asked(tmp_path: Path) -> None:
    path = tmp_path / "milter.sock"
    group = grp.getgrgid(os.getgid()).gr_name
    with listening_socket(milter_config(path, milter_socket_group=group)):
        assert path.stat().st_gid == os.getgid()
    with pytest.raises(ConfigError, match="no group named 'no-such-group-here'"):
        listening_socket(
            milter_config(tmp_path / "other.sock", milter_socket_group="no-such-group-here")
        )


def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "milter.sock"
    # What a SIGKILLed service leaves: the file, and nobody listening on it.
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(path))
    left.close()
    assert path.exists()
    with listening_socket(milter_config(path)) as sock:
        assert sock.getsockname() == str(path)


def test_a_socket_in_use_or_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "milter.sock"
    with listening_socket(milter_config(path)):
        with pytest.raises(ConfigError, match="another process is listening there"):
            listening_socket(milter_config(path))
        assert stat.S_ISSOCK(path.lstat().st_mode)  # the running one keeps its socket
    plain = tmp_path / "notes.txt"
    plain.write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        listening_socket(milter_config(plain))
    assert plain.read_text(encoding="utf-8") == "mine"
    remove_socket_file(milter_config(plain))  # never removes what is no socket
    assert plain.exists()


def test_a_directory_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot listen on unix:.*/missing/milter.sock"):
        listening_socket(milter_config(tmp_path / "missing" / "milter.sock"))


def test_the_proxy_refuses_a_unix_socket(tmp_path: Path) -> None:
    config = replace(Config(), protocol="smtp", listen=tmp_path / "s.sock")
    with pytest.raises(ConfigError, match="only protocol: milter serves"):
        check_listen(config)


def test_tcp_is_unchanged() -> None:
    config = replace(Config(), listen=("127.0.0.1", 0))
    with listening_socket(config) as sock:
        assert sock.family == socket.AF_INET
        assert sock.getsockname()[0] == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:/run/scam-milter/milter.sock", Path("/run/scam-milter/milter.sock")),
        ("127.0.0.1:11332", ("127.0.0.1", 11332)),
        ("[::1]:11332", ("::1", 11332)),
    ],
)
def test_parse_listen(text: str, expected: object) -> None:
    found = parse_listen(text, "listen")
    assert found == expected
    assert describe_listen(found) == text  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["unix:milter.sock", "unix:", "unix:/tmp/.."])
def test_a_unix_socket_needs_an_absolute_path(text: str) -> None:
    with pytest.raises(ConfigError, match="needs an absolute path"):
        parse_listen(text, "listen")


@pytest.mark.parametrize(("value", "mode"), [("0660", 0o660), (660, 0o660), ("0o600", 0o600)])
def test_socket_mode_in_the_config(value: object, mode: int, tmp_path: Path) -> None:
    config = config_from_mapping(
        {"protocol": "milter", "listen": "unix:/run/m.sock", "milter": {"socket_mode": value}},
        "config.yml",
        tmp_path,
    )
    assert config.milter_socket_mode == mode
    assert config.listen == Path("/run/m.sock")


@pytest.mark.parametrize("value", ["rw", "0999", 7777, True])
def test_a_bad_socket_mode_is_one_line(value: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="socket_mode must be an octal mode"):
        config_from_mapping({"milter": {"socket_mode": value}}, "config.yml", tmp_path)


def test_submission_choice_in_the_config(tmp_path: Path) -> None:
    read = config_from_mapping({"milter": {"submission": "outbound"}}, "config.yml", tmp_path)
    assert read.milter_submission == "outbound"
    assert Config().milter_submission == "skip"
    with pytest.raises(ConfigError, match=r"milter\.submission must be one of skip, outbound"):
        config_from_mapping({"milter": {"submission": True}}, "config.yml", tmp_path)
