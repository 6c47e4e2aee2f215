"""Fixtures of the review page's tests: a quarantine with one message, two accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.quarantine.store import QuarantineStore
from tests.helpers.web_site import NextHop, hold, make_users, next_hop


@pytest.fixture
def qdir(tmp_path: Path) -> Path:
    return tmp_path / "quarantine"


@pytest.fixture
def store(qdir: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(qdir) as s:
        yield s


@pytest.fixture
def held(store: QuarantineStore) -> str:
    return hold(store)


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "web-users.json"
    path.parent.mkdir()
    make_users(path)
    return path


@pytest.fixture
def hop() -> Iterator[NextHop]:
    yield from next_hop()
