"""The review page's accounts: a users file of names, roles and scrypt password hashes.

The file is JSON, mode 0600, replaced atomically (a new file renamed over the old one),
so the web server never reads half of one. It never holds a password in clear: each
password is stored as a self-describing string ``scrypt$N$r$p$salt$hash`` (base64), so
the cost can be raised later without breaking the hashes already stored. scrypt comes
from the standard library (hashlib, OpenSSL); its memory cost (N=2**14, r=8: 16 MiB per
guess) is what makes offline guessing slow.

Two roles: ``viewer`` reads, ``reviewer`` also releases and deletes (``can_act``).
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from milter.errors import ScamMilterError

FORMAT: Final = 1
DEFAULT_USERS_FILE: Final = Path("/etc/scam-milter/web-users.json")
# OWASP's minimum for scrypt (2023): N=2**14, r=8, p=1; ~50 ms a guess here.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
MIN_PASSWORD: Final = 8
# A password longer than this is refused before hashing: it cannot be a real one and
# would only make the server hash megabytes.
MAX_PASSWORD: Final = 1024
# Names appear in logs, in the X-Scam-Released header and in the quarantine's events:
# printable ASCII without spaces keeps all three unambiguous.
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class AccountError(ScamMilterError):
    """A users file, user name, role or password that cannot be used."""


class Role(enum.Enum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"

    @property
    def can_act(self) -> bool:
        """True for the role that may release and delete."""
        return self is Role.REVIEWER


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str  # scrypt$N$r$p$salt$hash


def check_name(name: str) -> str:
    """``name`` when it is a valid user name; AccountError otherwise."""
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"{name[:40]!r} is not a user name (1-64 of A-Z a-z 0-9 . _ @ -, "
            "starting with a letter or digit)."
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters.")
    return password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        # OpenSSL's default limit (32 MiB) is just above 128*N*r; room for raised costs.
        maxmem=256 * 1024 * 1024,
        dklen=HASH_BYTES,
    )


def hash_password(password: str) -> str:
    """The self-describing scrypt hash of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored``; False for anything malformed."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    # Constant time: the comparison must not tell how many leading bytes were right.
    return hmac.compare_digest(actual, expected)


# Verified against when the user does not exist, so an unknown name costs as long as a
# wrong password and the timing does not tell which names exist.
DUMMY_HASH: Final = (
    f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(SALT_BYTES))}${_b64(bytes(HASH_BYTES))}"
)


@dataclass(frozen=True)
class UsersFile:
    """The users file at ``path``: read it whole, change it, write it whole."""

    path: Path

    def load(self, *, missing_ok: bool = False) -> dict[str, User]:
        """Every user by name. AccountError when the file is unreadable, malformed or
        readable by others; an empty dict for a missing file when ``missing_ok``."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            if missing_ok:
                return {}
            raise AccountError(
                f"no users file {self.path}; add a user with "
                f"'scam-milter web adduser NAME --users-file {self.path}'."
            ) from None
        except OSError as exc:
            raise AccountError(f"cannot read users file {self.path}: {exc.strerror}.") from exc
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if stat.S_IMODE(mode) & 0o077:
                # Hashes are slow to guess, not impossible: they stay with their owner.
                raise AccountError(
                    f"users file {self.path} is readable or writable by others "
                    f"(mode {stat.S_IMODE(mode):04o}); chmod 600 it."
                )
            data = file.read()
        return _parse(self.path, data)

    def save(self, users: dict[str, User]) -> None:
        """Write ``users`` atomically, mode 0600 from the first byte."""
        data = {
            "format": FORMAT,
            "users": {
                u.name: {"role": u.role.value, "password": u.password_hash}
                for u in sorted(users.values(), key=lambda u: u.name)
            },
        }
        body = (json.dumps(data, indent=1) + "\n").encode("utf-8")
        directory = self.path.parent
        tmp = directory / f".{self.path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(body)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise AccountError(f"cannot write users file {self.path}: {exc.strerror}.") from exc

    def add(self, name: str, role: Role, password: str) -> User:
        users = self.load(missing_ok=True)
        if check_name(name) in users:
            raise AccountError(f"user {name} exists already; 'web passwd {name}' changes it.")
        user = User(name, role, hash_password(check_password(password)))
        users[name] = user
        self.save(users)
        return user

    def remove(self, name: str) -> None:
        users = self.load()
        if users.pop(name, None) is None:
            raise AccountError(f"no user {name[:64]!r} in {self.path}.")
        self.save(users)

    def set_password(self, name: str, password: str) -> User:
        users = self.load()
        if name not in users:
            raise AccountError(f"no user {name[:64]!r} in {self.path}.")
        user = replace(users[name], password_hash=hash_password(check_password(password)))
        users[name] = user
        self.save(users)
        return user


def _parse(path: Path, data: bytes) -> dict[str, User]:
    try:
        parsed = json.loads(data)
        if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
            raise ValueError(f"expected format {FORMAT}")
        users = {}
        for name, item in parsed["users"].items():
            check_name(name)
            hashed = item["password"]
            if not isinstance(hashed, str) or not hashed.startswith("scrypt$"):
                raise ValueError(f"user {name}: the password is not a scrypt hash")
            users[name] = User(name, Role(item["role"]), hashed)
    except (ValueError, TypeError, KeyError, AttributeError, AccountError) as exc:
        raise AccountError(f"users file {path} is unreadable: {exc}.") from exc
    return users
