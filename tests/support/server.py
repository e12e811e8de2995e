"""Run ``chargedeck serve`` as a real process on free ports, and stop it by pid.

The server logs ``ocpp listening on HOST:PORT`` and ``http listening on HOST:PORT`` when ready;
the helper reads them from stderr and keeps every log line so tests can assert on them (and fail
on unexpected ERROR lines).

Every route of the API needs credentials: before the start the helper makes an admin API token
in the server's store (as ``chargedeck tokens create`` does) and keeps it in ``server.token``;
``server.auth_headers``, ``server.api_client()`` and ``server.async_api_client()`` send it.
A token of another scope: ``create_api_token(server.database_url, "read")``.

Every server runs on one OCPP transport (``--ocpp-transport``): the ``transport`` argument, else
the one chosen for the running test module with :func:`use_transport` (the e2e conftest
parametrizes each module over :data:`TRANSPORTS`), else ``CHARGEDECK_TEST_TRANSPORT``, else
websockets.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from chargedeck.domain.operators import Scope, new_token, token_hash, token_prefix

READY_TIMEOUT_S = 30.0
TRANSPORTS = ("websockets", "picows")
_chosen_transport: str | None = None


def use_transport(transport: str | None) -> None:
    """Make ``transport`` the default of the servers started from now on (None: the env/default)."""
    global _chosen_transport
    _chosen_transport = transport


def default_transport() -> str:
    return _chosen_transport or os.environ.get("CHARGEDECK_TEST_TRANSPORT") or "websockets"


_LISTENING = re.compile(r"(ocpp|http|files) listening on (\S+):(\d+)")
# The first-start notice of server/accounts.py: the password is alone on its line.
_FIRST_ADMIN_PASSWORD = re.compile(r"^ {6}(\S+)$")


def create_api_token(
    database_url: str,
    scope: str = "admin",
    *,
    name: str = "tests",
    user: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Make an API token in the store at ``database_url`` (migrated if new) and return its text;
    ``user`` names its account, ``expires_at`` may lie in the past.

    Runs in a thread of its own, so it works from sync and async tests alike.
    """

    async def make() -> str:
        from chargedeck.clock import SystemClock
        from chargedeck.store import open_store

        token = new_token()
        now = SystemClock().now()
        store = await open_store(database_url)
        try:
            user_id = None
            if user is not None:
                record = await store.operators.get_user(user)
                assert record is not None, f"no user {user!r}"
                user_id = record.id
            await store.operators.create_token(
                name=name,
                scope=Scope(scope),
                token_hash=token_hash(token),
                token_prefix=token_prefix(token),
                now=now,
                user_id=user_id,
                expires_at=expires_at,
            )
        finally:
            await store.close()
        return token

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


def bearer(token: str) -> dict[str, str]:
    """The headers that authenticate a request with ``token``."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    database_url: str
    ocpp_port: int = 0
    http_port: int = 0
    files_port: int = 0
    """Of the file endpoint (firmware downloads, diagnostics uploads: server/files.py)."""
    token: str = ""
    """An admin API token made in the store before the start."""
    lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/v1"

    @property
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate with :attr:`token` (scope admin)."""
        return bearer(self.token)

    def run_cli(self, *args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
        """Run ``chargedeck ARGS --api <this server> --token <its admin token>`` (a command
        that talks to the running server) and return what it did."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "chargedeck",
                *args,
                "--api",
                f"http://127.0.0.1:{self.http_port}",
                "--token",
                self.token,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def api_client(self, **kwargs: Any) -> httpx.Client:
        """A client on ``api_url`` that sends :attr:`token`; kwargs go to httpx."""
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.api_url, headers=self.auth_headers, **kwargs)

    def async_api_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An async client on ``api_url`` that sends :attr:`token`; kwargs go to httpx."""
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.api_url, headers=self.auth_headers, **kwargs)

    def first_admin_password(self) -> str | None:
        """The password the first start printed for ``admin`` (None if this start did not)."""
        with self._lock:
            lines = list(self.lines)
        for index, line in enumerate(lines):
            if "shown this once" in line:
                for candidate in lines[index + 1 : index + 4]:
                    match = _FIRST_ADMIN_PASSWORD.match(candidate)
                    if match:
                        return match.group(1)
        return None

    def log_text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for_log(self, pattern: str, timeout_s: float = 10.0) -> str:
        """Wait until a log line matches ``pattern`` (a regex); return it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    if regex.search(line):
                        return line
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r} in:\n{self.log_text()}")

    def error_lines(self) -> list[str]:
        with self._lock:
            return [line for line in self.lines if " ERROR " in line or "Traceback" in line]

    def kill(self) -> None:
        """SIGKILL: the crash the durability rules are about."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout_s: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def _reader(server: ServerProcess) -> None:
    assert server.process.stderr is not None
    for raw in server.process.stderr:
        line = raw.rstrip("\n")
        with server._lock:
            server.lines.append(line)
        match = _LISTENING.search(line)
        if match:
            if match.group(1) == "ocpp":
                server.ocpp_port = int(match.group(3))
            elif match.group(1) == "files":
                server.files_port = int(match.group(3))
            else:
                server.http_port = int(match.group(3))


def start_server(
    database_url: str,
    extra_args: Sequence[str] = (),
    cwd: Path | None = None,
    transport: str | None = None,
) -> ServerProcess:
    """Start ``chargedeck serve`` on 127.0.0.1 with free ports and wait until it listens.

    An admin API token is made in the store first (``server.token``).
    """
    token = create_api_token(database_url)
    args = [
        sys.executable,
        "-m",
        "chargedeck",
        "serve",
        "--ocpp-host",
        "127.0.0.1",
        "--ocpp-port",
        "0",
        "--http-port",
        "0",
        "--files-host",
        "127.0.0.1",
        "--files-port",
        "0",
        "--database-url",
        database_url,
        "--ocpp-transport",
        transport or default_transport(),
        *extra_args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEDECK_")}
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    server = ServerProcess(process=process, database_url=database_url, token=token)
    threading.Thread(target=_reader, args=(server,), daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not (server.ocpp_port and server.http_port and server.files_port):
        if process.poll() is not None:
            time.sleep(0.1)
            raise AssertionError(f"chargedeck serve exited early:\n{server.log_text()}")
        if time.monotonic() > deadline:
            server.terminate()
            raise AssertionError(f"chargedeck serve did not start:\n{server.log_text()}")
        time.sleep(0.02)
    return server


@contextmanager
def running_server(
    database_url: str,
    extra_args: Sequence[str] = (),
    cwd: Path | None = None,
    transport: str | None = None,
) -> Iterator[ServerProcess]:
    server = start_server(database_url, extra_args, cwd, transport)
    try:
        yield server
    finally:
        server.terminate()
