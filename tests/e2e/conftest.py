"""Fixtures for end-to-end tests: a real ``chargedeck serve`` process on free ports.

Servers are shared by the tests of a module (each test uses its own charge point ids), and
every server must end its life without an ERROR log line.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that registers unknown chargers on their first boot (policy accept)."""
    folder = tmp_path_factory.mktemp("accept")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def inbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the default policy: unknown chargers wait in the adoption inbox."""
    folder = tmp_path_factory.mktemp("inbox")
    with running_server(f"sqlite:///{folder / 'chargedeck.db'}", cwd=folder) as s:
        yield s
        assert s.error_lines() == [], s.log_text()
