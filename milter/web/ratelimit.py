"""Failed logins counted per client address and per user name, in a sliding window.

Per address stops one client guessing many names; per name stops many clients (a
botnet) guessing one password. Only failures count, so a user who types the password
right is never locked out by their own logins; while a key is over its limit even the
right password is refused, or the limit would not slow guessing at all. The clock is
injected so tests need no sleeping. One instance per app (``app.py``), in memory: a
restart forgets the counts, which the slow scrypt hash makes an acceptable loss.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Bound on the keys remembered, so a flood of made-up names cannot grow memory forever;
# past it the oldest keys are dropped first.
MAX_KEYS = 10_000


@dataclass
class LoginLimiter:
    per_address: int = 20
    per_user: int = 5
    window_seconds: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def blocked(self, address: str, user: str) -> bool:
        """True while the address or the user name has too many recent failures."""
        now = self.clock()
        return (
            len(self._recent(f"a:{address}", now)) >= self.per_address
            or len(self._recent(f"u:{user.lower()}", now)) >= self.per_user
        )

    def failed(self, address: str, user: str) -> None:
        now = self.clock()
        for key in (f"a:{address}", f"u:{user.lower()}"):
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)
        while len(self._failures) > MAX_KEYS:
            del self._failures[next(iter(self._failures))]
