"""Fixtures for cluster tests: real NATS (JetStream), a fresh PostgreSQL database, several
``chargedeck serve`` nodes and HAProxy in front of their OCPP ports.

Each test gets its own database and its own NATS names (``--cluster-prefix``), so a node of one
test never sees another's presence; the key-value buckets are deleted afterwards. Every process
is stopped by its pid, and every node must end without an ERROR log line (SIGKILLed ones too:
their log up to the kill).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Protocol

import nats
import nats.js.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from chargedeck.store.engine import async_url
from tests.support.server import ServerProcess, start_server

POSTGRES_URL = os.environ.get(
    "CHARGEDECK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("CHARGEDECK_TEST_NATS_URL", "nats://127.0.0.1:4222")
PRESENCE_TTL_S = 3.0
"""Short, so a killed node's chargers show offline within the test's patience (default 6 s)."""


async def _admin(statements: list[str]) -> None:
    engine = create_async_engine(
        async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


def _create_database() -> str:
    name = f"chargedeck_cluster_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin([f'CREATE DATABASE "{name}"']))
    except (OSError, sa.exc.DBAPIError) as exc:
        pytest.fail(f"PostgreSQL not reachable at {make_url(POSTGRES_URL)!r}: {exc}")
    return name


async def _delete_buckets(prefix: str) -> None:
    nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for bucket in (f"{prefix}_nodes", f"{prefix}_chargers", f"{prefix}_sites"):
            with suppress(nats.js.errors.NotFoundError):
                await js.delete_key_value(bucket)
    finally:
        await nc.close()


class Cluster:
    """One test's cluster: its own PostgreSQL database and NATS names (``--cluster-prefix``).

    ``start("n1")`` starts a node; :meth:`stop` stops them all by pid, drops the database,
    deletes the key-value buckets and fails on any node's ERROR log line.
    """

    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        try:
            asyncio.run(_delete_buckets(self.prefix))  # proves NATS answers before nodes start
        except (OSError, nats.errors.Error) as exc:
            pytest.fail(f"NATS not reachable at {NATS_URL} (dev.py test starts it): {exc}")
        self.database = _create_database()
        self.database_url = (
            make_url(POSTGRES_URL).set(database=self.database).render_as_string(hide_password=False)
        )
        self.nodes: list[ServerProcess] = []

    def start(self, name: str, *args: str) -> ServerProcess:
        """Node ``name`` with the cluster's settings and ``args`` (more ``serve`` flags)."""
        node = start_server(
            self.database_url,
            [
                "--cluster-url",
                NATS_URL,
                "--cluster-prefix",
                self.prefix,
                "--cluster-presence-ttl-s",
                str(PRESENCE_TTL_S),
                "--node-name",
                name,
                "--unknown-charge-points",
                "accept",
                *args,
            ],
            transport="websockets",
        )
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.process.terminate()  # all at once: each takes its close_timeout_s
        for node in self.nodes:
            node.terminate()
        asyncio.run(_admin([f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)']))
        asyncio.run(_delete_buckets(self.prefix))
        for node in self.nodes:
            assert node.error_lines() == [], node.log_text()


class StartNode(Protocol):
    def __call__(self, name: str, *args: str) -> ServerProcess: ...


@pytest.fixture
def start_node() -> Iterator[StartNode]:
    """``start_node("n1")`` starts a node of this test's own cluster."""
    cluster = Cluster()
    try:
        yield cluster.start
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def node_pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two nodes shared by a module's tests (each test uses its own charge point ids)."""
    cluster = Cluster()
    try:
        yield cluster.start("n1"), cluster.start("n2")
    finally:
        cluster.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


HAPROXY_CONFIG = """\
global
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    retries 2
    option redispatch

frontend ocpp
    bind 127.0.0.1:{port}
    default_backend chargedeck

backend chargedeck
    balance roundrobin
{servers}
"""


class Haproxy:
    """HAProxy in the foreground (-db) with the nodes' OCPP ports as backends."""

    def __init__(self, folder: Path, ocpp_ports: dict[str, int]) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            pytest.fail("haproxy is not installed (dev.py test installs the Debian package)")
        self.port = free_port()  # HAProxy binds a fixed port: a free one, picked just before
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check inter 500ms fall 2 rise 2"
            for name, port in ocpp_ports.items()
        )
        config = folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                assert self.process.stderr is not None
                pytest.fail(f"haproxy did not start: {self.process.stderr.read()}")
            time.sleep(0.05)

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Callable[[dict[str, int]], Haproxy]]:
    started: list[Haproxy] = []

    def start(ocpp_ports: dict[str, int]) -> Haproxy:
        proxy = Haproxy(tmp_path, ocpp_ports)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


async def eventually(check: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``check`` (sync or async) until it returns truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s:g} s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def task_group() -> AsyncIterator[list[asyncio.Task[None]]]:
    """Background tasks of a test, cancelled at its end."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
