"""Fixtures for end-to-end tests: a real ``chargedeck serve`` process on free ports.

Servers are shared by the tests of a module (each test uses its own charge point ids), and
every server must end its life without an ERROR log line. Every module runs once per OCPP
transport (websockets, picows: DESIGN §4), the servers it starts included.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import TRANSPORTS, ServerProcess, running_server, use_transport


@pytest.fixture(scope="module", params=TRANSPORTS, autouse=True)
def ocpp_transport(request: pytest.FixtureRequest) -> Iterator[str]:
    """The transport of every server this module starts (fixtures and tests alike)."""
    transport: str = request.param
    use_transport(transport)
    yield transport
    use_transport(None)


@pytest.fixture(scope="module")
def tmp_path_factory(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> pytest.TempPathFactory:
    """pytest's own, made to depend on the transport: a module's own fixtures that start a server
    in a temporary folder (test_cli's ``cli_server``) are then set up again for each transport
    instead of being shared by both."""
    return tmp_path_factory


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> Iterator[ServerProcess]:
    """A server that registers unknown chargers on their first boot (policy accept)."""
    folder = tmp_path_factory.mktemp("accept")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def inbox_server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> Iterator[ServerProcess]:
    """A server with the default policy: unknown chargers wait in the adoption inbox."""
    folder = tmp_path_factory.mktemp("inbox")
    with running_server(f"sqlite:///{folder / 'chargedeck.db'}", cwd=folder) as s:
        yield s
        assert s.error_lines() == [], s.log_text()
