"""Sessions kept in a signed cookie: who is logged in, their CSRF token, until when.

Nothing is stored on the server, so a restart keeps everyone logged in and several
processes could share the key. The cookie is ``base64(json).base64(hmac-sha256)`` under a
random 32-byte key in a 0600 file next to the users file, made on first start. The
value names the user and carries a fingerprint of their password hash: changing a
password or deleting the user ends their sessions at once, with no list to clean.

Anonymous visitors get a session too (no user, a CSRF token): the login form is a POST
and is checked like every other one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from milter.web.accounts import AccountError

KEY_BYTES: Final = 32
COOKIE: Final = "scam_milter_session"
# A working day: a reviewer is not logged out mid-review, and a stolen cookie dies.
LIFETIME_SECONDS: Final = 12 * 3600


@dataclass(frozen=True)
class Session:
    user: str | None  # None: not logged in
    csrf: str
    expires: int  # Unix time
    fingerprint: str = ""  # of the user's password hash, see module doc


def key_path(users_file: Path) -> Path:
    return users_file.with_name(users_file.name + ".key")


def load_or_create_key(path: Path) -> bytes:
    """The signing key in ``path``, created (0600, O_EXCL) when there is none."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass  # made on an earlier start (or by another process just now): read it
    except OSError as exc:
        raise AccountError(f"cannot create session key {path}: {exc.strerror}.") from exc
    else:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
            file.flush()
            os.fsync(file.fileno())
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise AccountError(f"cannot read session key {path}: {exc.strerror}.") from exc
    with os.fdopen(fd, "rb") as file:
        if stat.S_IMODE(os.fstat(file.fileno()).st_mode) & 0o077:
            # Whoever reads the key can mint a session for any user.
            raise AccountError(f"session key {path} is readable by others; chmod 600 it.")
        key = file.read()
    if len(key) < KEY_BYTES:
        raise AccountError(f"session key {path} is too short; remove it to make a new one.")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    """Turns sessions into cookie values and back, with one key."""

    key: bytes

    def fingerprint(self, password_hash: str) -> str:
        digest = hmac.new(self.key, b"fp:" + password_hash.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def dump(self, session: Session) -> str:
        payload = json.dumps(
            {"u": session.user, "c": session.csrf, "e": session.expires, "f": session.fingerprint},
            separators=(",", ":"),
        ).encode()
        body = _b64(payload)
        mac = hmac.new(self.key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def load(self, value: str, now: int) -> Session | None:
        """The session in ``value``, or None when it is forged, malformed or expired."""
        body, dot, mac = value.partition(".")
        if not dot or len(value) > 4096:
            return None
        try:
            expected = hmac.new(self.key, body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                return None
            data = json.loads(_unb64(body))
            session = Session(
                user=data["u"] if isinstance(data["u"], str) else None,
                csrf=str(data["c"]),
                expires=int(data["e"]),
                fingerprint=str(data.get("f") or ""),
            )
        except (ValueError, TypeError, KeyError, UnicodeError):
            return None
        return session if session.expires > now else None


def new_session(user: str | None, fingerprint: str, now: int) -> Session:
    """A fresh session with a fresh CSRF token (a login gets a new one: no fixation)."""
    return Session(user, secrets.token_urlsafe(24), now + LIFETIME_SECONDS, fingerprint)


def csrf_ok(session: Session | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())
