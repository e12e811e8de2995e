"""Load generator of the security benchmark (bench/security.py): connection storms over ws:// or
wss:// with HTTP Basic auth, a Heartbeat loop of honest chargers, and a flood of connection
attempts with wrong passwords.

One role per process, so that the flood's own CPU never stalls the honest chargers' event loop
(on two cores they still share the machine with the server: see bench/README.md):

* ``connect``: ``--count`` chargers; commands on stdin: ``open PHASE [close]`` (each charger:
  TCP, TLS, WebSocket upgrade with Basic auth, BootNotification answered; ``--concurrency`` at a
  time; with ``close`` each is closed again after its Boot), ``status`` (a StatusNotification on
  each open one), ``close``, ``quit``.
* ``honest``: ``--count`` chargers connect and boot at start (event ``connected``); ``loop`` starts
  the Heartbeat loop (one CALL outstanding per charger; with ``--interval`` a pause between a
  reply and the next CALL); ``start NAME``/``stop NAME`` bracket a measured window; ``quit``.
* ``flood``: after ``go``, ``--attempts`` connection attempts with wrong passwords, at most
  ``--concurrency`` in flight; each ends at the HTTP answer to the upgrade (401, 404, 429...).

Every charger is the same as bench/loadgen.py's: an ``asyncio.Protocol`` driving websockets'
sans-I/O ``ClientProtocol``, on uvloop. Output: one JSON object per line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import psutil
from websockets.client import ClientProtocol
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from _support import MAX_FRAME_BYTES, OCPP_SUBPROTOCOL, install_uvloop, raise_open_files_limit
from loadgen import (
    CLOSE_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    ChargerState,
    ProtocolCharger,
    Workload,
    _registration_refused,
    boot_notification_frame,
    close_all,
    emit,
    machine_cpu_s,
    percentile_us,
    process_tree_cpu_s,
    status_notification_frame,
)

ATTEMPT_TIMEOUT_S = 30.0
"""Longest one flood attempt may wait for the server's HTTP answer; later counts as a time-out."""
UNKNOWN_ID_FORMAT = "INTRUDER-%05d"
UNKNOWN_IDS = 1000
"""Unknown charge point ids the flood rotates over."""


# --------------------------------------------------------------------------------------------
# Where to connect


@dataclass(frozen=True)
class Target:
    """The server's charger endpoint: plain ws:// or wss:// with a context trusting its CA."""

    host: str
    port: int
    tls: ssl.SSLContext | None

    def uri(self, charge_point_id: str, password: str) -> str:
        """Security Whitepaper ed.3 profiles 1/2: Basic auth, username = charge point id.
        websockets' ClientProtocol sends the URI's user info as the Authorization header."""
        scheme = "wss" if self.tls is not None else "ws"
        return (
            f"{scheme}://{charge_point_id}:{password}@{self.host}:{self.port}"
            f"/ocpp/{charge_point_id}"
        )

    async def connect(self, factory: Callable[[], asyncio.Protocol]) -> asyncio.Protocol:
        loop = asyncio.get_running_loop()
        if self.tls is None:
            _, protocol = await loop.create_connection(factory, self.host, self.port)
        else:
            _, protocol = await loop.create_connection(
                factory,
                self.host,
                self.port,
                ssl=self.tls,
                server_hostname=self.host,
                ssl_handshake_timeout=CONNECT_TIMEOUT_S,
            )
        return protocol


def client_tls_context(ca_file: str, version: str) -> ssl.SSLContext:
    """Verify the server against the benchmark's CA, as a charger with its CA root uploaded
    does; ``version`` 1.2 is what charger TLS stacks speak (Security Whitepaper: TLS 1.2+)."""
    context = ssl.create_default_context(cafile=ca_file)
    if version == "1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


# --------------------------------------------------------------------------------------------
# Chargers


class PacedCharger(ProtocolCharger):
    """loadgen's charger, optionally pausing ``interval_s`` between a reply and the next CALL
    (still one CALL outstanding at most)."""

    interval_s = 0.0

    def _next(self, frame: bytes) -> None:
        if self.reply_waiter is not None or self.interval_s <= 0:
            super()._next(frame)
            return
        if self.in_loop and self.workload.sending:
            asyncio.get_running_loop().call_later(self.interval_s, self._send_paced)

    def _send_paced(self) -> None:
        if self.workload.sending and self.transport is not None and not self.transport.is_closing():
            self._send_next_call()
            self._flush()


async def open_charger(
    workload: Workload, target: Target, index: int, charger_id: str, password: str
) -> PacedCharger:
    """Connect, upgrade with Basic auth, BootNotification answered Accepted; raises otherwise."""
    state = ChargerState(index=index, charger_id=charger_id, energy_wh=1_000_000)
    uri = target.uri(charger_id, password)
    charger = cast(
        PacedCharger,
        await asyncio.wait_for(
            target.connect(lambda: PacedCharger(workload, state, uri)), CONNECT_TIMEOUT_S
        ),
    )
    await asyncio.wait_for(charger.opened, CONNECT_TIMEOUT_S)
    reply = await charger.call(boot_notification_frame("boot", charger_id))
    if _registration_refused(reply):
        raise RuntimeError(f"{charger_id}: BootNotification not accepted: {reply[:200]!r}")
    return charger


def _error_kind(error: BaseException) -> str:
    """A short, countable name for a failure (e.g. ``InvalidStatus: ... HTTP 429``)."""
    text = str(error).split("\n", 1)[0][:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class CpuWindow:
    """CPU seconds of this process, the server's process tree and the machine over a window."""

    def __init__(self, server: psutil.Process | None) -> None:
        self.server = server
        self.me = psutil.Process()
        self.started = time.perf_counter()
        self.own = process_tree_cpu_s(self.me)
        self.server_start = process_tree_cpu_s(server) if server is not None else (0.0, 0.0)
        self.machine = machine_cpu_s()

    def result(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started
        own = sum(process_tree_cpu_s(self.me)) - sum(self.own)
        server = (
            sum(process_tree_cpu_s(self.server)) - sum(self.server_start)
            if self.server is not None
            else None
        )
        machine = machine_cpu_s()
        other = machine[0] - self.machine[0] - own - (server or 0.0)
        return {
            "elapsed_s": elapsed,
            "server_cpu_s": server,
            "server_cores": server / elapsed if server is not None else None,
            "generator_cpu_s": own,
            "generator_cores": own / elapsed,
            "other_cpu_cores": max(0.0, other) / elapsed,
            "interrupt_and_steal_cores": (machine[1] - self.machine[1]) / elapsed,
        }


# --------------------------------------------------------------------------------------------
# Commands on stdin


async def read_commands(handle: Callable[[list[str]], Awaitable[bool]]) -> None:
    """Feed each stdin line (split in words) to ``handle`` until it returns False or EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        words = line.decode().split()
        if words and not await handle(words):
            return


# --------------------------------------------------------------------------------------------
# Role: connect


async def open_all(
    workload: Workload,
    target: Target,
    arguments: argparse.Namespace,
    phase: str,
    *,
    keep: bool = True,
) -> tuple[list[PacedCharger], dict[str, Any]]:
    """Open ``--count`` chargers, ``--concurrency`` at a time; time each one to Boot answered.
    Without ``keep``, each connection is closed once its Boot is answered (the close is not
    timed), so at most about ``--concurrency`` are open at once."""
    limiter = asyncio.Semaphore(arguments.concurrency)
    latencies_ns: list[int] = []
    finished_ns: list[int] = []
    closing: set[asyncio.Task[None]] = set()
    tls_facts: list[dict[str, Any] | None] = []

    async def open_one(index: int) -> PacedCharger:
        async with limiter:
            started = time.perf_counter_ns()
            charger = await open_charger(
                workload, target, index, arguments.id_format % index, arguments.password
            )
            now = time.perf_counter_ns()
            latencies_ns.append(now - started)
            finished_ns.append(now)
            if not tls_facts:
                tls_facts.append(_tls_facts(charger))
            if not keep:
                task = asyncio.get_running_loop().create_task(charger.close())
                closing.add(task)
                task.add_done_callback(closing.discard)
            return charger

    server = psutil.Process(arguments.server_pid) if arguments.server_pid else None
    cpu = CpuWindow(server)
    started_ns = time.perf_counter_ns()
    outcomes = await asyncio.gather(
        *(open_one(index) for index in range(1, arguments.count + 1)), return_exceptions=True
    )
    window = cpu.result()
    if closing:
        await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S * 2)
    chargers = [outcome for outcome in outcomes if isinstance(outcome, PacedCharger)]
    failures = Counter(
        _error_kind(outcome) for outcome in outcomes if isinstance(outcome, BaseException)
    )
    seconds = (max(finished_ns) - started_ns) / 1e9 if finished_ns else None
    latencies_ns.sort()
    server_cpu = window["server_cpu_s"]
    return chargers, {
        "phase": phase,
        "connections": len(chargers),
        "failures": sum(failures.values()),
        "failure_kinds": dict(failures.most_common(5)),
        "seconds": seconds,
        "handshakes_per_s": len(chargers) / seconds if seconds else None,
        "p50_us": percentile_us(latencies_ns, 0.50),
        "p99_us": percentile_us(latencies_ns, 0.99),
        "server_cpu_us_per_handshake": server_cpu * 1e6 / len(chargers)
        if chargers and server_cpu
        else None,
        **window,
        "tls": tls_facts[0] if tls_facts else None,
        "kept_open": keep,
    }


def _tls_facts(charger: PacedCharger) -> dict[str, Any] | None:
    """The negotiated TLS version and cipher (None for plain ws)."""
    transport = charger.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return {"version": ssl_object.version(), "cipher": cipher[0] if cipher else None}


async def send_status_all(chargers: list[PacedCharger], concurrency: int) -> dict[str, Any]:
    limiter = asyncio.Semaphore(concurrency)

    async def status(charger: PacedCharger) -> None:
        async with limiter:
            await charger.call(status_notification_frame("status"))

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(status(c) for c in chargers), return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    return {
        "seconds": time.perf_counter() - started,
        "failures": len(failures),
        "failure_kinds": dict(Counter(_error_kind(f) for f in failures).most_common(5)),
    }


async def run_connect(arguments: argparse.Namespace, target: Target) -> None:
    workload = Workload(heartbeat_every=1)
    chargers: list[PacedCharger] = []

    async def handle(words: list[str]) -> bool:
        nonlocal chargers
        command = words[0]
        if command == "open":
            # "open PHASE [close]": with "close", each connection closes after its Boot.
            keep = words[2:] != ["close"]
            opened, result = await open_all(workload, target, arguments, words[1], keep=keep)
            chargers = opened if keep else []
            emit("opened", **result)
        elif command == "status":
            emit("status", **await send_status_all(chargers, arguments.concurrency))
        elif command == "close":
            started = time.perf_counter()
            alive = sum(1 for c in chargers if not c.connection_lost_future.done())
            await close_all(chargers)
            chargers = []
            emit("closed", still_open=alive, seconds=time.perf_counter() - started)
        elif command == "quit":
            return False
        return True

    try:
        await read_commands(handle)
    finally:
        await close_all(chargers)
    emit("done")


# --------------------------------------------------------------------------------------------
# Role: honest


def window_result(workload: Workload, cpu: CpuWindow, name: str) -> dict[str, Any]:
    window = cpu.result()
    stats = next(iter(s for s in workload.stats.values() if s.calls), None)
    latencies = sorted(stats.latencies_ns) if stats is not None else []
    calls = len(latencies)
    server_cpu = window["server_cpu_s"]
    return {
        "window": name,
        "calls": calls,
        "calls_per_s": calls / window["elapsed_s"],
        "p50_us": percentile_us(latencies, 0.50),
        "p99_us": percentile_us(latencies, 0.99),
        "p999_us": percentile_us(latencies, 0.999),
        "max_us": latencies[-1] / 1000 if latencies else None,
        "server_cpu_us_per_call": server_cpu * 1e6 / calls if calls and server_cpu else None,
        "errors": workload.errors,
        "error_samples": list(workload.errors_seen),
        **window,
    }


async def run_honest(arguments: argparse.Namespace, target: Target) -> None:
    workload = Workload(heartbeat_every=1)
    workload.kind = "heartbeat"
    PacedCharger.interval_s = arguments.interval
    chargers, result = await open_all(workload, target, arguments, "honest")
    emit("connected", **result)
    server = psutil.Process(arguments.server_pid) if arguments.server_pid else None
    windows: dict[str, CpuWindow] = {}
    lost_before: dict[str, int] = {}

    async def handle(words: list[str]) -> bool:
        command = words[0]
        if command == "loop":
            for charger in chargers:
                charger.start_loop()
        elif command == "start":
            workload.reset_stats()
            lost_before[words[1]] = workload.closed_connections
            windows[words[1]] = CpuWindow(server)
            workload.recording = True
        elif command == "stop":
            workload.recording = False
            result = window_result(workload, windows.pop(words[1]), words[1])
            result["connections_lost"] = workload.closed_connections - lost_before[words[1]]
            emit("window", **result)
        elif command == "quit":
            return False
        return True

    try:
        await read_commands(handle)
    finally:
        workload.sending = False
        await close_all(chargers)
    emit("done")


# --------------------------------------------------------------------------------------------
# Role: flood


class Attempt(asyncio.Protocol):
    """One connection attempt: send the upgrade request, take the HTTP status, hang up."""

    def __init__(self, uri: str) -> None:
        self.websocket = ClientProtocol(
            parse_uri(uri), subprotocols=[Subprotocol(OCPP_SUBPROTOCOL)], max_size=MAX_FRAME_BYTES
        )
        loop = asyncio.get_running_loop()
        self.status: asyncio.Future[int] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.websocket.send_request(self.websocket.connect())
        for chunk in self.websocket.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def data_received(self, data: bytes) -> None:
        self.websocket.receive_data(data)
        for event in self.websocket.events_received():
            if isinstance(event, Response) and not self.status.done():
                self.status.set_result(event.status_code)
                if self.transport is not None:
                    self.transport.close()

    def eof_received(self) -> bool | None:
        return None  # the server hung up: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(exc or ConnectionError("closed before an HTTP answer"))
        if not self.lost.done():
            self.lost.set_result(None)


def flood_target(arguments: argparse.Namespace, attempt: int) -> str:
    """Every ``--unknown-every``-th attempt names an unknown id; the others rotate over the
    registered ids (including the honest chargers', which are connected meanwhile)."""
    if arguments.unknown_every and attempt % arguments.unknown_every == 0:
        return UNKNOWN_ID_FORMAT % (attempt // arguments.unknown_every % UNKNOWN_IDS + 1)
    known = arguments.known_ids
    return known[attempt % len(known)]


async def run_flood(arguments: argparse.Namespace, target: Target) -> None:
    emit("ready")
    loop = asyncio.get_running_loop()
    go = loop.create_future()

    async def handle(words: list[str]) -> bool:
        if words[0] == "go" and not go.done():
            go.set_result(None)
        return False

    await read_commands(handle)
    if not go.done():
        return
    limiter = asyncio.Semaphore(arguments.concurrency)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    durations_ns: list[int] = []
    deadline = time.perf_counter() + arguments.deadline
    not_sent = 0

    async def attempt(number: int) -> None:
        nonlocal not_sent
        async with limiter:
            if time.perf_counter() > deadline:
                not_sent += 1
                return
            charger_id = flood_target(arguments, number)
            # 20 characters that are not hex: one password check per attempt (not two).
            password = f"wrong-{number:014d}"
            started = time.perf_counter_ns()
            protocol: Attempt | None = None
            try:
                protocol = cast(
                    Attempt,
                    await asyncio.wait_for(
                        target.connect(lambda: Attempt(target.uri(charger_id, password))),
                        ATTEMPT_TIMEOUT_S,
                    ),
                )
                status = await asyncio.wait_for(protocol.status, ATTEMPT_TIMEOUT_S)
                statuses[str(status)] += 1
                durations_ns.append(time.perf_counter_ns() - started)
            except (OSError, TimeoutError, ssl.SSLError) as error:
                errors[_error_kind(error)] += 1
            finally:
                if protocol is not None and protocol.transport is not None:
                    protocol.transport.close()
                    try:
                        await asyncio.wait_for(protocol.lost, CLOSE_TIMEOUT_S)
                    except TimeoutError:
                        protocol.transport.abort()

    cpu = CpuWindow(None)
    started = time.perf_counter()
    await asyncio.gather(*(attempt(number) for number in range(arguments.attempts)))
    seconds = time.perf_counter() - started
    window = cpu.result()
    durations_ns.sort()
    answered = sum(statuses.values())
    emit(
        "flood",
        attempts=arguments.attempts,
        answered=answered,
        not_sent=not_sent,
        seconds=seconds,
        attempts_per_s=(answered + sum(errors.values())) / seconds if seconds else None,
        by_status=dict(statuses),
        errors=sum(errors.values()),
        error_kinds=dict(errors.most_common(5)),
        accepted=statuses.get("101", 0),
        p50_us=percentile_us(durations_ns, 0.50),
        p99_us=percentile_us(durations_ns, 0.99),
        generator_cores=window["generator_cores"],
        generator_cpu_us_per_attempt=window["generator_cpu_s"] * 1e6 / arguments.attempts
        if arguments.attempts
        else None,
    )
    emit("done")


# --------------------------------------------------------------------------------------------
# Main


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("connect", "honest", "flood"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-ca", help="CA certificate file: connect with wss:// (else ws://)")
    parser.add_argument("--tls-version", choices=("1.2", "1.3"), default="1.2")
    parser.add_argument("--id-format", default="SEC-%05d", help="charger ids, %%d = 1..count")
    parser.add_argument("--count", type=int, default=0, help="chargers (connect, honest)")
    parser.add_argument("--password", default="", help="the chargers' password")
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
    parser.add_argument("--interval", type=float, default=0.0, help="honest: pause per CALL, s")
    parser.add_argument("--server-pid", type=int, default=0, help="measure this process's CPU")
    parser.add_argument("--attempts", type=int, default=0, help="flood: connection attempts")
    parser.add_argument(
        "--known", action="append", default=[], help="flood: FORMAT:COUNT of registered ids"
    )
    parser.add_argument(
        "--unknown-every", type=int, default=5, help="flood: every Nth attempt an unknown id"
    )
    parser.add_argument("--deadline", type=float, default=300.0, help="flood: longest run, s")
    arguments = parser.parse_args(argv)
    arguments.known_ids = [
        text.rpartition(":")[0] % index
        for text in arguments.known
        for index in range(1, int(text.rpartition(":")[2]) + 1)
    ]
    if arguments.role == "flood" and not arguments.known_ids:
        parser.error("--role flood needs --known FORMAT:COUNT")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    raise_open_files_limit()
    install_uvloop()
    tls = client_tls_context(arguments.tls_ca, arguments.tls_version) if arguments.tls_ca else None
    target = Target(arguments.host, arguments.port, tls)
    role = {"connect": run_connect, "honest": run_honest, "flood": run_flood}[arguments.role]
    try:
        asyncio.run(role(arguments, target))
    except (OSError, RuntimeError, TimeoutError) as error:
        emit("error", message=_error_kind(error))
        sys.exit(1)
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()


if __name__ == "__main__":
    main()
