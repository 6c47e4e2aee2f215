"""Shared fixtures."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.postfix_harness import PostfixInstance, PostfixUnavailable, ensure_postfix


@pytest.fixture
def postfix_factory() -> Iterator[Any]:
    """Make real Postfix instances configured from docs/postfix.md; all are stopped and
    their folders removed when the test ends, whatever its outcome.

        pf = postfix_factory("after-queue")            # started; or start=False
        pf = postfix_factory("before-queue", filter_port=port, delivery="sink")

    Skips the test (with the reason) only when Postfix is missing and cannot be installed.
    """
    try:
        ensure_postfix()
    except PostfixUnavailable as exc:
        if os.environ.get("CI"):
            # In CI a missing Postfix is a broken setup, never a reason to skip.
            pytest.fail(f"no Postfix for end-to-end tests: {exc}")
        pytest.skip(f"no Postfix for end-to-end tests: {exc}")
    base = Path(tempfile.mkdtemp(prefix="scam-milter-postfix-"))
    base.chmod(0o755)  # Postfix's own users must reach the queue and the Maildir
    made: list[PostfixInstance] = []

    def make(mode: str = "after-queue", *, start: bool = True, **kwargs: Any) -> PostfixInstance:
        instance = PostfixInstance(base, mode, **kwargs)
        made.append(instance)
        if start:
            instance.start()
        return instance

    try:
        yield make
    finally:
        for instance in made:
            with contextlib.suppress(Exception):
                instance.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once on asyncio's own loop and once on uvloop, the loop ``serve`` uses
    in production. uvloop's transports are Cython classes outside asyncio's hierarchy
    (``isinstance(t, asyncio.WriteTransport)`` is false), so code that passes on one loop
    can fail on the other. The policy makes ``asyncio.run`` and ``new_event_loop`` use it.
    """
    import asyncio

    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")  # a dependency of the package: always there
        policy = uvloop.EventLoopPolicy()
    else:
        policy = asyncio.DefaultEventLoopPolicy()
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(policy)
    try:
        yield request.param
    finally:
        asyncio.set_event_loop_policy(old)
