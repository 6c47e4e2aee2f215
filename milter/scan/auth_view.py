"""What the scanner reads of a message's sender authentication.

The scanner is pure and must not import milter.auth (docs/architecture.md, "What may
import what"); the authentication results reach it as a value it only reads. This
Protocol says which part of it: the result word of each method. AuthResults
(milter/auth/results.py) has that shape; tests/scan/test_auth_view.py checks that it
keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


class MethodResult(Protocol):
    """One method's outcome: "pass", "fail", "softfail", "none", "temperror" ..."""

    @property
    def result(self) -> str: ...


@runtime_checkable
class AuthView(Protocol):
    """SPF, DKIM and DMARC as the rules' ``auth.*`` targets read them. A method that
    was not checked is None (SPF, DMARC) or empty (DKIM: one result per signature)."""

    @property
    def spf(self) -> MethodResult | None: ...

    @property
    def dkim(self) -> Sequence[MethodResult]: ...

    @property
    def dmarc(self) -> MethodResult | None: ...
