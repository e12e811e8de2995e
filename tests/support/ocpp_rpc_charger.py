"""Drive the npm ``ocpp-rpc`` strict-mode charge point (tests/peers/ocpp_rpc_charger.js).

The peer reads one JSON command per line on stdin and writes one JSON event per line on stdout
(the script's header is the contract). :func:`ocpp_rpc_charger` starts it, waits for its
``connected`` event, and at the end closes it and reaps the process by pid, killing it when it
does not exit in time. Every event is kept in :attr:`RpcCharger.events`, so a test can assert
that strict mode never reported a ``strict_failure``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

PEER_SCRIPT = Path(__file__).resolve().parents[1] / "peers" / "ocpp_rpc_charger.js"
CONNECT_TIMEOUT_S = 15.0  # node start-up plus the handshake, on a loaded 2 vCPU machine
CALL_TIMEOUT_S = 15.0  # the peer gives up on a call after 10 s and reports an error event
CLOSE_TIMEOUT_S = 10.0

Event = dict[str, Any]


class RpcCharger:
    """One running peer process: send commands, read its events."""

    def __init__(self, process: asyncio.subprocess.Process, identity: str) -> None:
        self.process = process
        self.identity = identity
        self.events: list[Event] = []
        self.stderr_lines: list[str] = []
        self._changed = asyncio.Condition()
        self._refs = itertools.count(1)

    async def _read_events(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "unparsable_output", "line": line}
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()
        async with self._changed:
            self.events.append({"event": "exited"})
            self._changed.notify_all()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def describe(self) -> str:
        """Events and stderr, for assertion messages."""
        lines = [json.dumps(e) for e in self.events] + ["stderr:", *self.stderr_lines]
        return "\n".join(lines)

    async def wait_for(
        self, predicate: Callable[[Event], bool], timeout_s: float, since: int = 0
    ) -> Event:
        """The first event from index ``since`` on (seen or to come) that ``predicate`` accepts."""

        def found() -> Event | None:
            return next((e for e in self.events[since:] if predicate(e)), None)

        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(
                        lambda: found() is not None or self.events[-1:] == [{"event": "exited"}]
                    ),
                    timeout_s,
                )
            except TimeoutError:
                raise AssertionError(
                    f"{self.identity}: no matching event in {timeout_s} s:\n{self.describe()}"
                ) from None
        event = found()
        if event is None:
            raise AssertionError(f"{self.identity}: the peer exited:\n{self.describe()}")
        return event

    async def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def call(self, action: str, payload: dict[str, Any]) -> Event:
        """Send a CALL; return the peer's ``result``, ``callerror`` or ``error`` event for it."""
        ref = next(self._refs)
        await self.send({"op": "call", "action": action, "payload": payload, "ref": ref})
        return await self.wait_for(
            lambda e: e.get("ref") == ref and e["event"] in ("result", "callerror", "error"),
            CALL_TIMEOUT_S,
        )

    def events_named(self, name: str) -> list[Event]:
        return [e for e in self.events if e["event"] == name]

    @property
    def strict_failures(self) -> list[Event]:
        return self.events_named("strict_failure")

    async def close(self) -> None:
        """Close the WebSocket (1000), end stdin, and reap the process; kill it on time-out."""
        if self.process.returncode is None and self.process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                await self.send({"op": "close"})
                self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.process.kill()  # by pid: this process only
            await self.process.wait()


@asynccontextmanager
async def ocpp_rpc_charger(ocpp_url: str, identity: str) -> AsyncIterator[RpcCharger]:
    """Start the strict-mode peer against ``ocpp_url/<identity>`` and wait until it is connected."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the ocpp-rpc peer (see tests/peers/README.md)"
    process = await asyncio.create_subprocess_exec(
        node,
        str(PEER_SCRIPT),
        "--endpoint",
        ocpp_url,
        "--identity",
        identity,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    charger = RpcCharger(process, identity)
    readers = [
        asyncio.create_task(charger._read_events()),
        asyncio.create_task(charger._read_stderr()),
    ]
    try:
        connected = await charger.wait_for(
            lambda e: e["event"] in ("connected", "error"), CONNECT_TIMEOUT_S
        )
        assert connected == {"event": "connected", "protocol": "ocpp1.6"}, charger.describe()
        yield charger
    finally:
        await charger.close()
        await asyncio.gather(*readers, return_exceptions=True)
