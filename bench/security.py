"""ChargeDeck security benchmark: TLS memory, handshakes/s, honest chargers under a flood.

Issue 4, in one invocation, each figure beside a baseline measured in the same invocation: RSS per
idle TLS connection, TLS handshakes/s, and the honest chargers' p99 latency while a flood of
wrong-password attempts arrives. Two ``chargedeck serve`` processes on 127.0.0.1 with the same
throwaway CA, server certificate and SQLite store (``--connections`` profile 2 chargers
``SEC-*``, as many profile 1 chargers ``PLAIN-*``, ``--honest`` profile 2 chargers ``HONEST-*``,
all with one password), identical but for the failed-attempt back-off:

* ``tls`` (default back-off): first connections over wss:// (each pays one argon2 check and is
  closed after its Boot), then a reconnect storm of the same chargers (passwords answered from
  the cache) held idle for the RSS reading; then the honest chargers' Heartbeat latency without,
  then during, a flood of ``--attempts`` wrong-password attempts from 127.0.0.1, which the
  back-off soon answers with 429.
* ``plain`` (``--auth-failures-before-backoff 1000000``): the same connection steps over plain
  ws:// with the profile 1 chargers (the baseline of the TLS figures), then the same honest
  windows and flood: every attempt on a registered id now costs a password check (worst case).

Load generators (bench/security_load.py) are separate processes: ``honest``, ``connect`` and
``flood``. Results: a table on stdout, bench/results/security-latest.json and ``--json FILE``.
See bench/README.md, "Security benchmark", for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psutil

from _support import raise_open_files_limit
from run import (
    SERVER_START_TIMEOUT_S,
    ServerUnavailableError,
    _fmt,
    _ratio,
    _target,
    environment,
    process_tree_rss_bytes,
    stop_process,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "security-latest.json"
SECURITY_LOAD = BENCH_DIR / "security_load.py"

PASSWORD = "bench-Secret-0001xyz"
"""20 printable characters, not hex: one argon2 check per attempt (a hex password is also tried
hex-decoded, which would double the cost of every wrong one; domain.security)."""
SECURE_ID_FORMAT = "SEC-%05d"
PLAIN_ID_FORMAT = "PLAIN-%05d"
HONEST_ID_FORMAT = "HONEST-%03d"

IDLE_SETTLE_S = 3.0
"""As bench/run.py: seconds between the last StatusNotification answered and the RSS reading."""
HONEST_WARMUP_S = 2.0
"""Unmeasured seconds of the honest loop before its first window."""
EVENT_TIMEOUT_S = 300.0
"""Longest wait for one generator step (2,000 first connections take about 30 s here)."""
NO_BACKOFF = 1_000_000
"""auth_failures_before_backoff of the worst-case run: no attempt of the flood is throttled."""

TARGET_KB_PER_TLS_CONNECTION = 45.0
TARGET_HONEST_P99_RATIO = 2.0


# --------------------------------------------------------------------------------------------
# Set-up: certificates and the store


def write_certificates(directory: Path, key_type: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 with a ``key_type`` (rsa or ecdsa)
    key; returns the paths of (CA certificate, server chain, server key)."""
    from chargedeck.domain.certificates import (
        certificate_to_pem,
        create_certificate_authority,
        issue_server_certificate,
    )

    now = datetime.now(UTC)
    authority = create_certificate_authority("ChargeDeck bench CA", "ChargeDeck bench", now)
    server = issue_server_certificate(
        authority, ["127.0.0.1"], now, "ecdsa" if key_type == "ecdsa" else "rsa"
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(certificate_to_pem(authority.certificate))
    paths[1].write_bytes(server.chain_pem())
    paths[2].write_bytes(server.private_key_pem())
    paths[2].chmod(0o600)
    return paths


async def _register_chargers(database_url: str, connections: int, honest: int) -> None:
    from chargedeck.domain.charge_points import Registration
    from chargedeck.domain.ids import ChargePointId
    from chargedeck.domain.passwords import hash_secret
    from chargedeck.domain.security import SecurityProfile, parse_authorization_key
    from chargedeck.store import open_store

    # One argon2 hash (~20 ms) for all: each charger would get its own salt in real life, which
    # changes nothing the server does per connection.
    key_hash = hash_secret(parse_authorization_key(PASSWORD).key)
    now = datetime.now(UTC)
    chargers = [
        *(
            (SECURE_ID_FORMAT % i, SecurityProfile.TLS_BASIC_AUTH)
            for i in range(1, connections + 1)
        ),
        *((PLAIN_ID_FORMAT % i, SecurityProfile.BASIC_AUTH) for i in range(1, connections + 1)),
        *((HONEST_ID_FORMAT % i, SecurityProfile.TLS_BASIC_AUTH) for i in range(1, honest + 1)),
    ]
    store = await open_store(database_url, migrate=True, sqlite_synchronous="OFF")
    try:
        for charger_id, profile in chargers:
            await store.charge_points.add_charge_point(
                ChargePointId(charger_id),
                Registration.REGISTERED,
                now,
                security_profile=profile,
                authorization_key_hash=key_hash,
            )
    finally:
        await store.close()


def prepare_database(path: Path, connections: int, honest: int) -> None:
    asyncio.run(_register_chargers(f"sqlite:///{path}", connections, honest))


def copy_database(source: Path, target: Path) -> None:
    """Each server run starts from the same store (SQLite leaves no -wal file once closed)."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


# --------------------------------------------------------------------------------------------
# Processes


READY_LINES = {
    "ocpp": re.compile(r"ocpp listening on \S*?:(\d+)"),
    "tls": re.compile(r"ocpp tls listening on \S*?:(\d+)"),
    "http": re.compile(r"http listening on \S*?:(\d+)"),
}


@dataclass
class Server:
    process: subprocess.Popen[str]
    ports: dict[str, int]
    argv: list[str]
    output_tail: deque[str] = field(default_factory=lambda: deque(maxlen=60))


def _child_environment() -> dict[str, str]:
    """The caller's environment without CHARGEDECK_* settings, so every run measures the same
    configuration whatever the shell has set."""
    return {name: value for name, value in os.environ.items() if not name.startswith("CHARGEDECK_")}


def _drain(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))


def start_server(argv: list[str], cwd: Path) -> Server:
    """Start ``chargedeck serve`` and wait until it has logged its three listening lines."""
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=_child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except OSError as error:
        raise ServerUnavailableError(f"cannot execute {argv[0]}: {error}") from error
    assert process.stdout is not None
    server = Server(process=process, ports={}, argv=argv)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while len(server.ports) < len(READY_LINES) and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        server.output_tail.append(line.rstrip("\n"))
        for name, pattern in READY_LINES.items():
            match = pattern.search(line)
            if match and name not in server.ports:
                server.ports[name] = int(match.group(1))
    if len(server.ports) < len(READY_LINES):
        stop_process(process)
        last = " | ".join(list(server.output_tail)[-5:]) or "no output"
        raise ServerUnavailableError(
            f"no listening lines for {', '.join(sorted(set(READY_LINES) - set(server.ports)))} "
            f"within {SERVER_START_TIMEOUT_S:.0f} s (exit status {process.returncode}; "
            f"last output: {last})"
        )
    threading.Thread(target=_drain, args=(process.stdout, server.output_tail), daemon=True).start()
    return server


class GeneratorFailed(Exception):
    """A load generator reported an error, exited, or did not answer in time."""


class Generator:
    """A bench/security_load.py process: commands to its stdin, JSON events from its stdout."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr_tail: deque[str] = deque(maxlen=20)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(
            target=_drain, args=(self.process.stderr, self.stderr_tail), daemon=True
        ).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            text = line.strip()
            if text.startswith("{"):
                self.events.put(json.loads(text))
        self.events.put(None)

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except BrokenPipeError as error:
            raise GeneratorFailed(f"{self.name} generator: {self._why()}") from error

    def wait_for(self, event: str, timeout: float = EVENT_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise GeneratorFailed(
                    f"{self.name} generator: no {event!r} within {timeout:.0f} s"
                ) from None
            if got is None:
                raise GeneratorFailed(f"{self.name} generator exited: {self._why()}")
            if got["event"] == "error":
                raise GeneratorFailed(f"{self.name} generator: {got['message']}")
            if got["event"] == event:
                return got

    def _why(self) -> str:
        status = self.process.poll()
        stderr = " | ".join(list(self.stderr_tail)[-3:])
        return f"exit status {status}" + (f": {stderr}" if stderr else "")

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            stop_process(self.process)


def _load_argv(role: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, str(SECURITY_LOAD), "--role", role, "--port", str(port), *extra]


# --------------------------------------------------------------------------------------------
# One server run


@dataclass(frozen=True)
class RunPlan:
    name: str
    label: str
    transport: str
    """``wss`` or ``ws``: how the connection steps connect."""
    backoff_threshold: int | None
    """auth_failures_before_backoff, or None for the default."""


PLANS = (
    RunPlan("tls", "wss:// connections; flood with the default back-off", "wss", None),
    RunPlan("plain", "ws:// connections; flood with no back-off (worst case)", "ws", NO_BACKOFF),
)


def server_argv(plan: RunPlan, scratch: Path, database: Path, certs: tuple[Path, ...]) -> list[str]:
    argv = [
        str(Path(sys.executable).parent / "chargedeck"),
        "serve",
        "--ocpp-host",
        "127.0.0.1",
        "--ocpp-port",
        "0",
        "--ocpp-tls-port",
        "0",
        "--http-port",
        "0",
        "--database-url",
        f"sqlite:///{database}",
        "--data-dir",
        str(scratch),
        "--tls-cert",
        str(certs[1]),
        "--tls-key",
        str(certs[2]),
        # Every charger has a password: unknown ids are refused (404) instead of admitted into
        # the inbox, as on any site that uses profiles 1-2.
        "--min-security-profile",
        "1",
    ]
    if plan.backoff_threshold is not None:
        argv += ["--auth-failures-before-backoff", str(plan.backoff_threshold)]
    return argv


def _server_facts(server: Server) -> dict[str, Any]:
    process = psutil.Process(server.process.pid)
    return {
        "rss_bytes": process_tree_rss_bytes(server.process.pid),
        "threads": process.num_threads(),
    }


def run_plan(
    plan: RunPlan, arguments: argparse.Namespace, scratch: Path, certs: tuple[Path, ...]
) -> dict[str, Any]:
    print(f"== {plan.name}: {plan.label}", flush=True)
    database = scratch / f"{plan.name}.db"
    copy_database(scratch / "template.db", database)
    argv = server_argv(plan, scratch, database, certs)
    try:
        server = start_server(argv, scratch)
    except ServerUnavailableError as error:
        print(f"   not available ({error})", flush=True)
        return {"available": False, "reason": str(error)}
    result: dict[str, Any] = {
        "available": True,
        "argv": argv,
        "ports": server.ports,
        # app.run() logs this before listening when it falls back to the stdlib loop.
        "event_loop": "asyncio"
        if any("uvloop is not installed" in line for line in server.output_tail)
        else "uvloop",
    }
    generators: list[Generator] = []
    try:
        measure_run(plan, arguments, server, certs, result, generators)
    except GeneratorFailed as error:
        result["error"] = str(error)
        print(f"   problem: {error}", flush=True)
    finally:
        for generator in generators:
            generator.stop()
        stop_process(server.process)
    if server.process.returncode not in (0, -signal.SIGTERM):
        result["exit_status"] = server.process.returncode
    if result.get("error") or "exit_status" in result:
        result["output_tail"] = list(server.output_tail)[-20:]
        for line in [line for line in server.output_tail if "ERROR" in line][-3:]:
            print(f"   server said: {line[:300]}", flush=True)
    return result


def measure_run(
    plan: RunPlan,
    arguments: argparse.Namespace,
    server: Server,
    certs: tuple[Path, ...],
    result: dict[str, Any],
    generators: list[Generator],
) -> None:
    pid = str(server.process.pid)
    tls_options = ["--tls-ca", str(certs[0]), "--tls-version", arguments.tls_version]
    settle = min(IDLE_SETTLE_S, max(1.0, arguments.window))
    result["server_at_start"] = _server_facts(server)

    # The honest chargers connect first: they warm up TLS, the password-check threads and
    # argon2's memory, so none of that is counted as per-connection memory below.
    honest = Generator(
        "honest",
        _load_argv(
            "honest",
            server.ports["tls"],
            *tls_options,
            "--id-format",
            HONEST_ID_FORMAT,
            "--count",
            str(arguments.honest),
            "--password",
            PASSWORD,
            "--interval",
            str(arguments.honest_interval),
            "--server-pid",
            pid,
        ),
    )
    generators.append(honest)
    result["honest_connect"] = honest.wait_for("connected")
    _check_connected("honest", result["honest_connect"], arguments.honest)

    # Connections: first (password checked), then a reconnect storm (cached) held idle.
    secure = plan.transport == "wss"
    connect = Generator(
        "connect",
        _load_argv(
            "connect",
            server.ports["tls" if secure else "ocpp"],
            *(tls_options if secure else []),
            "--id-format",
            SECURE_ID_FORMAT if secure else PLAIN_ID_FORMAT,
            "--count",
            str(arguments.connections),
            "--password",
            PASSWORD,
            "--concurrency",
            str(arguments.concurrency),
            "--server-pid",
            pid,
        ),
    )
    generators.append(connect)
    # First connections: each pays its password check (argon2 in a worker thread) and is
    # closed after its Boot, so the checks' threads and memory are in place before the RSS
    # reading and at most --concurrency freed connections are left for the next step to reuse.
    print(f"   {arguments.connections} first connections over {plan.transport}://", flush=True)
    connect.send("open first close")
    first = connect.wait_for("opened")
    _check_connected("first connections", first, arguments.connections)
    time.sleep(settle)
    before = _server_facts(server)
    # Reconnect storm of the same chargers (passwords answered from the cache), held open idle.
    print(f"   reconnect storm over {plan.transport}://, held idle", flush=True)
    connect.send("open reconnect")
    reconnect = connect.wait_for("opened")
    _check_connected("reconnect", reconnect, arguments.connections)
    result["handshakes"] = {"first": first, "reconnect": reconnect}
    connect.send("status")
    status = connect.wait_for("status")
    time.sleep(settle)
    after = _server_facts(server)
    connections = reconnect["connections"]
    result["idle"] = {
        "connections": connections,
        "rss_before_bytes": before["rss_bytes"],
        "rss_after_bytes": after["rss_bytes"],
        "threads_before": before["threads"],
        "threads_after": after["threads"],
        "kb_per_connection": (after["rss_bytes"] - before["rss_bytes"]) / 1024 / connections,
        "status": status,
    }
    if before["threads"] != after["threads"]:
        print(
            f"   note: server threads {before['threads']} -> {after['threads']} during the "
            "idle step: the figure includes the new threads' memory",
            flush=True,
        )
    connect.send("close")
    connect.wait_for("closed")
    connect.send("quit")
    connect.wait_for("done")

    # Honest chargers without, then during, the flood.
    print(
        f"   honest chargers: {arguments.window:g} s without attack, then during "
        f"{arguments.attempts} wrong-password attempts",
        flush=True,
    )
    flood = Generator(
        "flood",
        _load_argv(
            "flood",
            server.ports["tls"],
            *tls_options,
            "--attempts",
            str(arguments.attempts),
            "--concurrency",
            str(arguments.flood_concurrency),
            "--known",
            f"{SECURE_ID_FORMAT}:{arguments.connections}",
            "--known",
            f"{HONEST_ID_FORMAT}:{arguments.honest}",
            "--unknown-every",
            str(arguments.unknown_every),
            "--deadline",
            str(arguments.flood_deadline),
        ),
    )
    generators.append(flood)
    flood.wait_for("ready")
    honest.send("loop")
    time.sleep(min(HONEST_WARMUP_S, arguments.window))
    honest.send("start baseline")
    time.sleep(arguments.window)
    honest.send("stop baseline")
    baseline = honest.wait_for("window")
    honest.send("start flood")
    flood.send("go")
    flood_result = flood.wait_for("flood", arguments.flood_deadline + 60)
    honest.send("stop flood")
    attacked = honest.wait_for("window")
    result["honest"] = {"baseline": baseline, "flood": attacked}
    result["flood"] = flood_result
    result["server_at_end"] = _server_facts(server)
    if flood_result["accepted"]:
        print(
            f"   SECURITY: {flood_result['accepted']} wrong-password attempts ACCEPTED", flush=True
        )
    honest.send("quit")
    honest.wait_for("done", 30)


def _check_connected(what: str, event: dict[str, Any], expected: int) -> None:
    if event["connections"] != expected:
        raise GeneratorFailed(
            f"{what}: {event['connections']} of {expected} connected; "
            f"failures: {event.get('failure_kinds')}"
        )


# --------------------------------------------------------------------------------------------
# Report


def _ms(value_us: float | None) -> float | None:
    return value_us / 1000 if value_us is not None else None


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def print_report(results: dict[str, Any]) -> dict[str, Any]:
    runs: dict[str, Any] = results["runs"]
    settings = results["settings"]
    tls, plain = runs.get("tls", {}), runs.get("plain", {})
    print()
    print(
        f"connections: {settings['connections']} per step, {settings['concurrency']} "
        f"handshakes at a time (TCP + TLS {settings['tls_version']} with an "
        f"{settings['key_type'].upper()} server key + upgrade with Basic auth + "
        "BootNotification answered)"
    )
    header = (
        f"{'connections':<24}{'handshakes/s':>13}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'srv µs/conn':>12}{'srv cores':>10}{'gen cores':>10}{'other cores':>12}"
    )
    print(header)
    print("-" * len(header))
    for label, run, step in (
        ("wss first (argon2)", tls, "first"),
        ("wss reconnect (cached)", tls, "reconnect"),
        ("ws first (argon2)", plain, "first"),
        ("ws reconnect (cached)", plain, "reconnect"),
    ):
        phase = _get(run, "handshakes", step) or {}
        print(
            f"{label:<24}{_fmt(phase.get('handshakes_per_s'), 0, 13)}"
            f"{_fmt(_ms(phase.get('p50_us')), 1)}{_fmt(_ms(phase.get('p99_us')), 1)}"
            f"{_fmt(phase.get('server_cpu_us_per_handshake'), 0, 12)}"
            f"{_fmt(phase.get('server_cores'), 2, 10)}{_fmt(phase.get('generator_cores'), 2, 10)}"
            f"{_fmt(phase.get('other_cpu_cores'), 2, 12)}"
        )
    print()
    header = f"{'idle connections':<24}{'KB/connection':>14}   RSS before -> after, threads"
    print(header)
    print("-" * len(header))
    for label, run in (("wss (profile 2)", tls), ("ws (profile 1)", plain)):
        idle = run.get("idle") or {}
        print(
            f"{label:<24}{_fmt(idle.get('kb_per_connection'), 1, 14)}   "
            f"{_fmt((idle.get('rss_before_bytes') or 0) / 2**20, 1, 0)} -> "
            f"{_fmt((idle.get('rss_after_bytes') or 0) / 2**20, 1, 0)} MiB, "
            f"{idle.get('threads_before', '-')} -> {idle.get('threads_after', '-')}"
        )
    print()
    print(
        f"honest chargers: {settings['honest']} over wss://, Heartbeat, one CALL outstanding each"
        + (
            f", {settings['honest_interval_s'] * 1000:g} ms pause after each reply"
            if settings["honest_interval_s"]
            else ", back to back"
        )
        + f"; flood: {settings['attempts']} attempts over wss://, {settings['flood_concurrency']}"
        f" in flight, 1 in {settings['unknown_every']} for an unknown id"
    )
    header = (
        f"{'back-off':<12}{'window':<11}{'msgs/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'srv cores':>10}{'other':>7}{'att/s':>8}{'401':>7}{'404':>6}{'429':>7}{'other':>6}"
        f"{'err':>5}"
    )
    print(header)
    print("-" * len(header))
    for label, run in (("default", tls), (f"off ({NO_BACKOFF:.0e})", plain)):
        for window in ("baseline", "flood"):
            honest = _get(run, "honest", window) or {}
            line = (
                f"{label:<12}{'no attack' if window == 'baseline' else 'flood':<11}"
                f"{_fmt(honest.get('calls_per_s'), 0, 8)}{_fmt(_ms(honest.get('p50_us')), 2, 8)}"
                f"{_fmt(_ms(honest.get('p99_us')), 2, 8)}{_fmt(_ms(honest.get('max_us')), 1, 8)}"
                f"{_fmt(honest.get('server_cores'), 2, 10)}"
                f"{_fmt(honest.get('other_cpu_cores'), 2, 7)}"
            )
            if window == "flood":
                flood = run.get("flood") or {}
                statuses: dict[str, int] = flood.get("by_status") or {}
                known = sum(statuses.get(code, 0) for code in ("401", "404", "429"))
                line += (
                    f"{_fmt(flood.get('attempts_per_s'), 0, 8)}{_fmt(statuses.get('401'), 0, 7)}"
                    f"{_fmt(statuses.get('404'), 0, 6)}{_fmt(statuses.get('429'), 0, 7)}"
                    f"{_fmt(sum(statuses.values()) - known if statuses else None, 0, 6)}"
                    f"{_fmt(flood.get('errors'), 0, 5)}"
                )
            print(line)
        flood = run.get("flood") or {}
        if flood.get("not_sent") or flood.get("errors"):
            print(
                f"{'':<12}flood: {flood.get('not_sent')} attempts not sent by the deadline; "
                f"errors: {flood.get('error_kinds')}"
            )

    def honest_ratio(run: dict[str, Any]) -> float | None:
        return _ratio(
            _get(run, "honest", "flood", "p99_us"), _get(run, "honest", "baseline", "p99_us")
        )

    def handshake_ratio(step: str) -> float | None:
        return _ratio(
            _get(tls, "handshakes", step, "handshakes_per_s"),
            _get(plain, "handshakes", step, "handshakes_per_s"),
        )

    kb_tls = _get(tls, "idle", "kb_per_connection")
    kb_plain = _get(plain, "idle", "kb_per_connection")
    ratios = {
        "kb_per_connection_tls/plain": _ratio(kb_tls, kb_plain),
        "handshakes_per_s_tls/plain/first": handshake_ratio("first"),
        "handshakes_per_s_tls/plain/reconnect": handshake_ratio("reconnect"),
        "handshakes_per_s_reconnect/first/tls": _ratio(
            _get(tls, "handshakes", "reconnect", "handshakes_per_s"),
            _get(tls, "handshakes", "first", "handshakes_per_s"),
        ),
        "honest_p99_flood/baseline/default_backoff": honest_ratio(tls),
        "honest_p99_flood/baseline/no_backoff": honest_ratio(plain),
    }
    print()
    print(
        "wss/ws   KB per idle connection      : "
        f"x{_fmt(ratios['kb_per_connection_tls/plain'], 2, 0)}"
    )
    print(
        f"wss/ws   handshakes/s                : first x{_fmt(handshake_ratio('first'), 2, 0)}, "
        f"reconnect x{_fmt(handshake_ratio('reconnect'), 2, 0)}"
    )
    print(
        f"wss      reconnect/first handshakes/s: "
        f"x{_fmt(ratios['handshakes_per_s_reconnect/first/tls'], 2, 0)}"
    )
    print(
        f"honest   p99 flood/no attack         : default back-off x{_fmt(honest_ratio(tls), 2, 0)},"
        f" no back-off x{_fmt(honest_ratio(plain), 2, 0)}"
    )
    targets = {
        "kb_per_tls_connection": _target(kb_tls, TARGET_KB_PER_TLS_CONNECTION, at_least=False),
        "honest_p99_ratio_default_backoff": _target(
            honest_ratio(tls), TARGET_HONEST_P99_RATIO, at_least=False
        ),
        "honest_p99_ratio_no_backoff": _target(
            honest_ratio(plain), TARGET_HONEST_P99_RATIO, at_least=False
        ),
    }
    print()
    print(
        f"targets: <= {TARGET_KB_PER_TLS_CONNECTION:g} KB per idle TLS connection: "
        f"{targets['kb_per_tls_connection']['verdict']}; honest p99 under the flood < "
        f"{TARGET_HONEST_P99_RATIO:g}x: default back-off "
        f"{targets['honest_p99_ratio_default_backoff']['verdict']}, no back-off "
        f"{targets['honest_p99_ratio_no_backoff']['verdict']}"
    )
    accepted = sum((_get(run, "flood", "accepted") or 0) for run in (tls, plain))
    if accepted:
        print(f"SECURITY: {accepted} wrong-password attempts were ACCEPTED")
    return {"ratios": ratios, "targets": targets}


# --------------------------------------------------------------------------------------------
# Main


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--connections", type=int, default=2000, help="chargers per connection step"
    )
    parser.add_argument("--attempts", type=int, default=10000, help="wrong-password attempts")
    parser.add_argument(
        "--window", type=float, default=10.0, help="honest chargers' no-attack window, s"
    )
    parser.add_argument("--honest", type=int, default=50, help="honest chargers")
    parser.add_argument(
        "--honest-interval",
        type=float,
        default=0.0,
        help="pause between an honest charger's reply and its next Heartbeat, s (0: back to back)",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
    parser.add_argument("--flood-concurrency", type=int, default=100, help="attempts in flight")
    parser.add_argument(
        "--unknown-every", type=int, default=2, help="every Nth flood attempt names an unknown id"
    )
    parser.add_argument(
        "--flood-deadline", type=float, default=150.0, help="longest flood, s (bounded run)"
    )
    parser.add_argument(
        "--tls-version",
        choices=("1.2", "1.3"),
        default="1.2",
        help="TLS version the chargers offer (1.2: what charger TLS stacks speak)",
    )
    parser.add_argument(
        "--key-type",
        choices=("rsa", "ecdsa"),
        default="rsa",
        help="server certificate key (rsa: the one every charger accepts)",
    )
    parser.add_argument("--only", default="tls,plain", help="comma-separated runs: tls,plain")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    arguments.only = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = sorted(set(arguments.only) - {plan.name for plan in PLANS})
    if unknown:
        parser.error(f"--only: unknown run(s) {', '.join(unknown)}")
    if min(arguments.connections, arguments.honest, arguments.attempts) < 1:
        parser.error("--connections, --honest and --attempts must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    raise_open_files_limit()
    started = time.monotonic()
    results: dict[str, Any] = {
        "settings": {
            "connections": arguments.connections,
            "attempts": arguments.attempts,
            "window_s": arguments.window,
            "honest": arguments.honest,
            "honest_interval_s": arguments.honest_interval,
            "concurrency": arguments.concurrency,
            "flood_concurrency": arguments.flood_concurrency,
            "unknown_every": arguments.unknown_every,
            "tls_version": arguments.tls_version,
            "key_type": arguments.key_type,
            "runs": arguments.only,
        },
        "environment": environment(),
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="chargedeck-security-") as scratch_name:
        scratch = Path(scratch_name)
        certs = write_certificates(scratch, arguments.key_type)
        print(f"registering {2 * arguments.connections + arguments.honest} chargers", flush=True)
        prepare_database(scratch / "template.db", arguments.connections, arguments.honest)
        for plan in PLANS:
            if plan.name in arguments.only:
                results["runs"][plan.name] = run_plan(plan, arguments, scratch, certs)
    results["elapsed_s"] = time.monotonic() - started
    results.update(print_report(results))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    for path in [RESULTS_FILE, *([arguments.json] if arguments.json else [])]:
        path.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"\nresults written to {RESULTS_FILE}"
        + (f" and {arguments.json}" if arguments.json else "")
        + f" ({results['elapsed_s']:.0f} s)"
    )
    failed = any(run.get("error") or not run.get("available") for run in results["runs"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
