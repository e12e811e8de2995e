"""ChargeDeck fleet benchmark (issue 8): open loop, ramp, idle memory, reconnect storm, held fleet.

One invocation, on this machine, against each server of ``--only`` (``echo``: raw websockets,
the transport ceiling; ``reference``: a CSMS on the PyPI ``ocpp`` library; ``chargedeck``:
``chargedeck serve`` on SQLite, and ``chargedeck-pg`` on PostgreSQL with
``--chargedeck-database-url``), each on 127.0.0.1 with ws:// and wss:// (a throwaway CA and
server certificate), one server at a time:

1. *open loop*: ``--chargers`` chargers send ``--rate`` msgs/s (Poisson, realistic mix) for a
   warm-up and a ``--duration`` window (bench/loadgen.py --mode open); with ``--profile``, a
   py-spy profile of the server over the window;
2. *ramp*: the same fleet through ``--ramp-steps`` until p99 > ``--p99-bound-ms`` or errors;
3. on a fresh server: *idle ws*: ``--idle`` connections (Boot + Status) held, RSS per
   connection; then the *reconnect storm*: ``--storm`` chargers connected, all dropped at once,
   all back with Boot + Status;
4. on a fresh server: *idle wss*: the same over TLS;
5. with ``--hold N`` (minutes), on fresh servers: N chargers held over ws and over wss, from
   several source addresses, Heartbeat and MeterValues every ``--hold-interval`` s each.

Prints one table with the ratios to the two baselines and the issue 8 targets; writes the JSON
to ``--out-dir`` (bench/results/fleet-latest.json), the PNG plots beside it, and ``--json FILE``.
Every child is started and stopped by its pid; every step is bounded in time. See
bench/README.md, "Fleet benchmark (issue 8)".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psutil

from _support import raise_open_files_limit
from loadgen import process_tree_cpu_s as loadgen_tree_cpu_s
from run import (
    ServerUnavailableError,
    _fmt,
    environment,
    process_tree_rss_bytes,
    scratch_postgres_database,
    stop_process,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LOADGEN = BENCH_DIR / "loadgen.py"

SERVER_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
FD_MARGIN = 200
"""Descriptors a server keeps for itself (listeners, database, logs, accepts in flight)."""
GENERATOR_FD_MARGIN = 200
HOLD_PER_PROCESS = 16_000
"""Chargers per hold generator process: below the 20,000 descriptors a process may have here,
and well below the ~28,000 ephemeral ports of its own source address."""
SLACK_S = 60.0
"""Added to every generator's expected duration before the harness kills it."""

TARGET_OPEN_RATE = 5000.0
TARGET_OPEN_P99_MS = 50.0
TARGET_OPEN_CPU_PERCENT = 60.0
TARGET_HOLD_CHARGERS = 50_000
TARGET_HOLD_P99_MS = 100.0
TARGET_KB_WS = 18.0
TARGET_KB_WSS = 45.0
TARGET_STORM_CHARGERS = 10_000
TARGET_STORM_S = 15.0

ALL_SERVERS = ("echo", "reference", "chargedeck")
ID_TAGS = 100


class StepFailedError(Exception):
    """A step of the benchmark did not complete; the message says which and why."""


# --------------------------------------------------------------------------------------------
# Children: every process is started here, kept by pid, and stopped by pid


@dataclass
class Children:
    """The processes this run started, so that all are stopped on any exit."""

    running: list[subprocess.Popen[str]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def start(self, argv: list[str], **options: Any) -> subprocess.Popen[str]:
        process = subprocess.Popen(argv, text=True, bufsize=1, **options)
        self.running.append(process)
        self.pids.append(process.pid)
        return process

    def stop(self, process: subprocess.Popen[str]) -> None:
        """SIGTERM by pid, SIGKILL after 10 s (bench/run.py's stop_process)."""
        stop_process(process)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def _drain_lines(stream: IO[str], tail: deque[str], lines: queue.Queue[str] | None) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))
        if lines is not None:
            lines.put(line)


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants."""
    return sum(loadgen_tree_cpu_s(psutil.Process(pid)))


# --------------------------------------------------------------------------------------------
# Servers


@dataclass(frozen=True)
class ServerSpec:
    name: str
    label: str
    argv: list[str]
    ready: dict[str, re.Pattern[str]]
    """Named ready lines; ``ws`` and ``wss`` capture the ports."""


@dataclass
class Server:
    spec: ServerSpec
    process: subprocess.Popen[str]
    ports: dict[str, int]
    tail: deque[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def error_lines(self) -> list[str]:
        return [line[:300] for line in self.tail if " ERROR " in line or "Traceback" in line][-5:]


def start_server(children: Children, spec: ServerSpec, cwd: Path) -> Server:
    """Start a server and wait for all its ready lines; raises ServerUnavailableError."""
    environment_ = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEDECK_")}
    try:
        process = children.start(
            spec.argv,
            cwd=cwd,
            env=environment_,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as error:
        raise ServerUnavailableError(f"cannot execute {spec.argv[0]}: {error}") from error
    assert process.stdout is not None
    tail: deque[str] = deque(maxlen=60)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain_lines, args=(process.stdout, tail, lines), daemon=True).start()
    ports: dict[str, int] = {}
    seen: set[str] = set()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while len(seen) < len(spec.ready) and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        for name, pattern in spec.ready.items():
            match = pattern.search(line)
            if match and name not in seen:
                seen.add(name)
                if match.groups():
                    ports[name] = int(match.group(1))
                break
    if len(seen) < len(spec.ready):
        children.stop(process)
        last = " | ".join(list(tail)[-4:]) or "no output"
        raise ServerUnavailableError(
            f"missing ready lines {sorted(set(spec.ready) - seen)} within "
            f"{SERVER_START_TIMEOUT_S:.0f} s (exit status {process.returncode}; last: {last})"
        )
    # Stop queueing lines nobody reads: the drain thread keeps only the tail from now on.
    threading.Thread(target=_discard, args=(lines,), daemon=True).start()
    return Server(spec, process, ports, tail)


def _discard(lines: queue.Queue[str]) -> None:
    while True:
        lines.get()


def server_specs(
    arguments: argparse.Namespace, scratch: Path, certs: Certificates
) -> list[ServerSpec]:
    plain = re.compile(r"^listening on 127\.0\.0\.1:(\d+)")
    secure = re.compile(r"^tls listening on 127\.0\.0\.1:(\d+)")
    tls_options = ["--tls-cert", str(certs.chain), "--tls-key", str(certs.key), "--tls-port", "0"]
    specs: list[ServerSpec] = []
    for name in arguments.only:
        if name in {"echo", "reference"}:
            script = "echo_server.py" if name == "echo" else "reference_csms.py"
            label = (
                "echo: raw websockets, reply cut from the CALL"
                if name == "echo"
                else "reference: PyPI ocpp ChargePoint, do-nothing handlers"
            )
            specs.append(
                ServerSpec(
                    name,
                    label,
                    [sys.executable, str(BENCH_DIR / script), "--port", "0", *tls_options],
                    {"ws": plain, "wss": secure},
                )
            )
            continue
        variants = [("chargedeck", f"sqlite:///{scratch / 'fleet.db'}")]
        if arguments.chargedeck_database_url:
            variants.append(("chargedeck-pg", arguments.chargedeck_database_url))
        for label, url in variants:
            specs.append(
                ServerSpec(
                    label,
                    f"{label}: chargedeck serve, {url.split(':', 1)[0]}",
                    [
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
                        "--files-host",
                        "127.0.0.1",
                        "--files-port",
                        "0",
                        "--database-url",
                        url,
                        "--data-dir",
                        str(scratch),
                        "--unknown-charge-points",
                        "accept",
                        "--tls-cert",
                        str(certs.chain),
                        "--tls-key",
                        str(certs.key),
                    ],
                    {
                        "ws": re.compile(r"ocpp listening on \S*?:(\d+)"),
                        "wss": re.compile(r"ocpp tls listening on \S*?:(\d+)"),
                        "http": re.compile(r"http listening on"),
                    },
                )
            )
    return specs


# --------------------------------------------------------------------------------------------
# Certificates and the store


@dataclass(frozen=True)
class Certificates:
    ca: Path
    chain: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 (RSA 2048, the cryptography
    package through chargedeck.domain.certificates, as bench/security.py)."""
    from security import write_certificates

    ca, chain, key = write_certificates(directory, "rsa")
    return Certificates(ca, chain, key)


def register_id_tags(database_url: str, count: int) -> None:
    """BENCHTAG0001... in ChargeDeck's store, so that every StartTransaction is Accepted."""

    async def work() -> None:
        from chargedeck.domain.ids import IdTag
        from chargedeck.store import open_store

        store = await open_store(database_url, migrate=True, sqlite_synchronous="OFF")
        try:
            now = datetime.now(UTC)
            for number in range(1, count + 1):
                await store.id_tags.add_id_tag(IdTag(f"BENCHTAG{number:04d}"), now=now)
        finally:
            await store.close()

    asyncio.run(work())


# --------------------------------------------------------------------------------------------
# Load generator processes


class Generator:
    """One bench/loadgen.py process: JSON events from its stdout, commands to its stdin, killed
    by pid when it overruns ``deadline_s``."""

    def __init__(self, children: Children, argv: list[str], deadline_s: float) -> None:
        self.children = children
        self.process = children.start(
            [sys.executable, str(LOADGEN), *argv],
            cwd=BENCH_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.deadline = time.monotonic() + deadline_s
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=20)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(
            target=_drain_lines, args=(self.process.stderr, self.stderr, None), daemon=True
        ).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            text = line.strip()
            if text.startswith("{"):
                with contextlib.suppress(ValueError):
                    self.events.put(json.loads(text))
        self.events.put(None)

    def expect(self, *names: str) -> dict[str, Any]:
        """The next event called one of ``names`` (others are skipped); StepFailedError on the
        generator's error event, its end, or its deadline."""
        while True:
            remaining = self.deadline - time.monotonic()
            try:
                event = self.events.get(timeout=max(0.0, remaining))
            except queue.Empty:
                self.children.stop(self.process)
                raise StepFailedError(
                    f"load generator overran its deadline waiting for {'/'.join(names)}"
                ) from None
            if event is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(STOP_TIMEOUT_S)
                stderr = " | ".join(list(self.stderr)[-3:])
                raise StepFailedError(
                    f"load generator ended (status {self.process.returncode}) before "
                    f"{'/'.join(names)}: {stderr or 'no output'}"
                )
            if event["event"] == "error":
                raise StepFailedError(f"load generator: {event['message']}")
            if event["event"] in names:
                return event

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()

    def finish(self) -> None:
        """Close stdin, wait for the end (bounded), stop by pid if needed."""
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(max(1.0, min(60.0, self.deadline - time.monotonic())))
        self.children.stop(self.process)


def _common(
    server: Server, arguments: argparse.Namespace, *, tls: bool, concurrency: int = 0
) -> list[str]:
    argv = ["--port", str(server.ports["wss" if tls else "ws"]), "--server-pid", str(server.pid)]
    argv += ["--id-tags", str(ID_TAGS), "--concurrency", str(concurrency or arguments.concurrency)]
    if tls:
        argv += ["--tls-ca", str(arguments.certs.ca)]
    return argv


# --------------------------------------------------------------------------------------------
# Steps


def step_open_loop(
    children: Children, server: Server, arguments: argparse.Namespace
) -> dict[str, Any]:
    argv = [
        "--mode",
        "open",
        "--chargers",
        str(arguments.chargers),
        "--rate",
        str(arguments.rate),
        "--arrivals",
        arguments.arrivals,
        "--warmup",
        str(arguments.warmup),
        "--duration",
        str(arguments.duration),
        *_common(server, arguments, tls=False),
    ]
    generator = Generator(
        children, argv, arguments.chargers / 50 + arguments.warmup + arguments.duration + SLACK_S
    )
    profile: tuple[subprocess.Popen[str], Path] | None = None
    try:
        connected = generator.expect("connected")
        generator.expect("window")
        if arguments.profile:
            profile = start_profile(children, server, arguments, "open", arguments.duration)
        result = _without(generator.expect("open"), "event")
        result["connect"] = connected
        # The samples become a histogram (for the plot) and quantiles; the JSON stays small.
        latencies = merge_latencies([result.pop("latencies_us", {})])
        result["histogram"] = histogram(latencies["all"])
        generator.expect("done")
    finally:
        generator.finish()
    if profile is not None:
        result["profile"] = finish_profile(children, profile)
    return result


def step_ramp(children: Children, server: Server, arguments: argparse.Namespace) -> dict[str, Any]:
    steps = [s for s in arguments.ramp_steps.split(",") if s.strip()]
    argv = [
        "--mode",
        "ramp",
        "--chargers",
        str(arguments.chargers),
        "--steps",
        ",".join(steps),
        "--arrivals",
        arguments.arrivals,
        "--warmup",
        str(arguments.ramp_warmup),
        "--duration",
        str(arguments.ramp_duration),
        "--p99-bound-ms",
        str(arguments.p99_bound_ms),
        "--drain",
        str(arguments.ramp_drain),
        *_common(server, arguments, tls=False),
    ]
    per_step = arguments.ramp_warmup + arguments.ramp_duration + arguments.ramp_drain + 1
    generator = Generator(children, argv, arguments.chargers / 50 + len(steps) * per_step + SLACK_S)
    result: dict[str, Any] = {"steps": []}
    try:
        generator.expect("connected")
        while True:
            event = generator.expect("step", "ramp")
            if event["event"] == "ramp":
                result.update({k: v for k, v in event.items() if k != "event"})
                break
            result["steps"].append(_without(event, "event", "error_samples"))
        generator.expect("done")
    finally:
        generator.finish()
    return result


def _without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in keys}


def warm_up(children: Children, server: Server, arguments: argparse.Namespace) -> None:
    """Open and close --warm connections over ws and wss (not measured), so one-off imports,
    the TLS context and the store's caches are not counted per connection."""
    for tls in (False, True):
        generator = Generator(
            children,
            [
                "--mode",
                "hold",
                "--chargers",
                str(arguments.warm),
                "--id-format",
                "WARM-%05d",
                *_common(server, arguments, tls=tls),
            ],
            SLACK_S,
        )
        try:
            generator.expect("connected")
            generator.send("quit")
            generator.expect("done")
        finally:
            generator.finish()


def step_idle(
    children: Children, server: Server, arguments: argparse.Namespace, *, tls: bool
) -> dict[str, Any]:
    """--idle connections (Boot + Status) held; (RSS after - RSS before) / connections."""
    time.sleep(arguments.settle / 3)
    rss_before = process_tree_rss_bytes(server.pid)
    fds_before = psutil.Process(server.pid).num_fds()
    generator = Generator(
        children,
        [
            "--mode",
            "hold",
            "--chargers",
            str(arguments.idle),
            "--id-format",
            "IDLE-%05d" if not tls else "IDLES-%05d",
            *_common(server, arguments, tls=tls),
        ],
        arguments.idle / 20 + SLACK_S,
    )
    try:
        connected = generator.expect("connected")
        time.sleep(arguments.settle)
        rss_after = process_tree_rss_bytes(server.pid)
        fds_after = psutil.Process(server.pid).num_fds()
        generator.send("quit")
        generator.expect("done")
    finally:
        generator.finish()
    connections = connected["connections"]
    return {
        "transport": "wss" if tls else "ws",
        "requested": arguments.idle,
        "connections": connections,
        "failures": connected["failures"],
        "failure_kinds": connected["failure_kinds"],
        "connect_and_boot_s": connected["seconds"],
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "server_fds_before": fds_before,
        "server_fds_after": fds_after,
        "kb_per_connection": (rss_after - rss_before) / 1024 / connections if connections else None,
    }


def listen_drops() -> dict[str, int]:
    """The kernel's counters of connections refused at a full listen queue (TcpExt
    ListenOverflows/ListenDrops, /proc/net/netstat): the clients then retry their SYN after 1 s,
    3 s, 7 s..."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in itertools.pairwise(lines):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], (int(v) for v in values.split()[1:]), strict=True))
            return {key: table.get(key, 0) for key in ("ListenOverflows", "ListenDrops")}
    return {}


def step_storm(children: Children, server: Server, arguments: argparse.Namespace) -> dict[str, Any]:
    generator = Generator(
        children,
        [
            "--mode",
            "storm",
            "--chargers",
            str(arguments.storm),
            "--storm-deadline",
            str(arguments.storm_deadline),
            *_common(server, arguments, tls=False, concurrency=max(arguments.concurrency, 200)),
        ],
        arguments.storm / 20 + arguments.storm_deadline + SLACK_S,
    )
    profile = None
    try:
        generator.expect("connected")
        generator.expect("dropping")
        drops_before = listen_drops()
        if arguments.profile:
            profile = start_profile(children, server, arguments, "storm", arguments.storm_deadline)
        result = _without(generator.expect("storm"), "event")
        drops_after = listen_drops()
        generator.expect("done")
    finally:
        generator.finish()
    result["listen_queue_drops"] = {
        key: drops_after.get(key, 0) - value for key, value in drops_before.items()
    }
    if profile is not None:
        result["profile"] = finish_profile(children, profile, interrupt=True)
    return result


def server_fd_room(server: Server) -> tuple[int, int, int]:
    """(soft limit, hard limit, descriptors in use) of the server process."""
    process = psutil.Process(server.pid)
    soft, hard = process.rlimit(psutil.RLIMIT_NOFILE)
    return soft, hard, process.num_fds()


def step_hold(
    children: Children, server: Server, arguments: argparse.Namespace, *, tls: bool
) -> dict[str, Any]:
    """--hold chargers from several source addresses over ws or wss, held --hold-seconds with
    a Heartbeat and a MeterValues every --hold-interval s each; capped at what the server's
    descriptor limit allows, saying so."""
    requested = arguments.hold
    soft, hard, in_use = server_fd_room(server)
    margin = FD_MARGIN + (2 * arguments.concurrency if tls else 0)
    room = max(0, soft - in_use - margin)
    count = min(requested, room)
    limited_by = None
    if count < requested:
        needed = requested + in_use + margin
        limited_by = (
            f"server RLIMIT_NOFILE {soft} (hard {hard}) with {in_use} in use: {requested:,} "
            f"connections need about {needed:,} descriptors in the server process (one per "
            f"connection; on wss two during each handshake). Raise the hard limit for the "
            f"server: `ulimit -n {math.ceil(needed / 1000) * 1000}` as root or with "
            f"CAP_SYS_RESOURCE, systemd LimitNOFILE=, docker --ulimit nofile=N:N"
        )
    own_soft, _ = _own_fd_limit()
    per_process = max(1, min(HOLD_PER_PROCESS, own_soft - GENERATOR_FD_MARGIN))
    processes = max(1, math.ceil(count / per_process))
    time.sleep(arguments.settle / 3)
    rss_before = process_tree_rss_bytes(server.pid)
    generators: list[Generator] = []
    profile = None
    first = 1
    connect_timeout = count / 20 + SLACK_S
    hold_timeout = (
        connect_timeout
        + arguments.hold_delay
        + arguments.hold_seconds
        + arguments.hold_drain
        + SLACK_S * 2
    )
    try:
        for number in range(processes):
            share = min(per_process, count - (first - 1))
            generators.append(
                Generator(
                    children,
                    [
                        "--mode",
                        "hold",
                        "--chargers",
                        str(share),
                        "--first-index",
                        str(first),
                        "--id-format",
                        "HOLD-%05d" if not tls else "HOLDS-%05d",
                        "--source-addresses",
                        f"127.0.0.{2 + number}",
                        "--hold",
                        str(arguments.hold_seconds),
                        "--interval",
                        str(arguments.hold_interval),
                        "--drain",
                        str(arguments.hold_drain),
                        *_common(server, arguments, tls=tls),
                    ],
                    hold_timeout,
                )
            )
            first += share
        connected = [generator.expect("connected") for generator in generators]
        held = sum(event["connections"] for event in connected)
        connect_s = max(event["seconds"] for event in connected)
        time.sleep(arguments.settle)
        rss_after = process_tree_rss_bytes(server.pid)
        generator_rss = sum(process_tree_rss_bytes(g.process.pid) for g in generators)
        time.sleep(arguments.hold_delay)
        cpu_before = process_tree_cpu_s(server.pid)
        started = time.perf_counter()
        for generator in generators:
            generator.send("go")
        if arguments.profile:
            profile = start_profile(
                children,
                server,
                arguments,
                f"hold-{'wss' if tls else 'ws'}",
                arguments.hold_seconds,
            )
        holds = [generator.expect("hold") for generator in generators]
        elapsed = time.perf_counter() - started
        server_cpu = process_tree_cpu_s(server.pid) - cpu_before
        for generator in generators:
            generator.send("quit")
        for generator in generators:
            generator.expect("done")
    finally:
        for generator in generators:
            generator.finish()
    latencies = merge_latencies([event.get("latencies_us", {}) for event in holds])
    worst_by_second = [
        max(values)
        for values in itertools.zip_longest(
            *(event["worst_ms_by_second"] for event in holds), fillvalue=0.0
        )
    ]
    answered = sum(event["answered"] for event in holds)
    failures: Counter[str] = Counter()
    for event in connected:
        failures.update(event["failure_kinds"])
    return {
        "transport": "wss" if tls else "ws",
        "requested": requested,
        "attempted": count,
        "held": held,
        "still_connected_after_hold": sum(event["still_connected"] for event in holds),
        "limited_by": limited_by,
        "generator_processes": processes,
        "source_addresses": [f"127.0.0.{2 + n}" for n in range(processes)],
        "connect_and_boot_s": connect_s,
        "connect_failures": sum(event["failures"] for event in connected),
        "connect_failure_kinds": dict(failures.most_common(5)),
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "kb_per_connection": (rss_after - rss_before) / 1024 / held if held else None,
        "hold_s": arguments.hold_seconds,
        "hold_delay_s": arguments.hold_delay,
        "interval_s": arguments.hold_interval,
        "answered": answered,
        "msgs_per_s": sum(event["achieved_per_s"] for event in holds),
        "errors": sum(event["errors"] for event in holds),
        "unanswered": sum(event["unanswered"] for event in holds),
        "error_kinds": _merged_counts([event["error_kinds"] for event in holds]),
        "server_cpu_s": server_cpu,
        "server_core_percent": server_cpu * 100 / elapsed,
        "server_cpu_us_per_msg": server_cpu * 1e6 / answered if answered else None,
        "overall": quantiles(latencies["all"]),
        "by_action": {k: quantiles(v) for k, v in latencies.items() if k != "all"},
        "histogram": histogram(latencies["all"]),
        "worst_ms_by_second": worst_by_second,
        "dispatch_lag_p99_us": max(event["dispatch_lag"]["p99_us"] or 0 for event in holds),
        "generator_cores": sum(event["generator_cores"] for event in holds),
        "generator_kb_per_charger": generator_rss / 1024 / held if held else None,
        "profile": finish_profile(children, profile),
    }


def _own_fd_limit() -> tuple[int, int]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def _merged_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for item in counts:
        total.update(item)
    return dict(total.most_common(5))


# --------------------------------------------------------------------------------------------
# Latency figures


def merge_latencies(samples: list[dict[str, list[int]]]) -> dict[str, list[int]]:
    """Per action and ``all``: the microsecond samples of several generators, sorted."""
    merged: dict[str, list[int]] = {"all": []}
    for sample in samples:
        for action, values in sample.items():
            merged.setdefault(action, []).extend(values)
            merged["all"].extend(values)
    return {action: sorted(values) for action, values in merged.items()}


def quantiles(sorted_us: list[int]) -> dict[str, Any]:
    if not sorted_us:
        return {"calls": 0, "p50_us": None, "p99_us": None, "max_us": None}
    count = len(sorted_us)
    return {
        "calls": count,
        "p50_us": sorted_us[min(count - 1, int(0.50 * count))],
        "p99_us": sorted_us[min(count - 1, int(0.99 * count))],
        "p999_us": sorted_us[min(count - 1, int(0.999 * count))],
        "max_us": sorted_us[-1],
    }


HISTOGRAM_BUCKETS_PER_DECADE = 20


def histogram(sorted_us: list[int]) -> dict[str, Any]:
    """Counts in log-spaced buckets (20 per decade from 10 µs): enough to redraw the latency
    distribution without keeping every sample in the JSON."""
    counts: Counter[int] = Counter()
    for value in sorted_us:
        bucket = int(math.log10(max(value, 10)) * HISTOGRAM_BUCKETS_PER_DECADE)
        counts[bucket] += 1
    return {
        "bucket_lower_us": [
            round(10 ** (b / HISTOGRAM_BUCKETS_PER_DECADE), 1) for b in sorted(counts)
        ],
        "counts": [counts[b] for b in sorted(counts)],
    }


# --------------------------------------------------------------------------------------------
# Profile


PROFILE_RATE_HZ = 200


def start_profile(
    children: Children, server: Server, arguments: argparse.Namespace, label: str, seconds: float
) -> tuple[subprocess.Popen[str], Path] | None:
    """py-spy on the server for at most ``seconds`` (collapsed stacks of the thread holding the
    GIL, so that waiting threads and the idle event loop are not counted); None without
    py-spy."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        return None
    arguments.out_dir.mkdir(parents=True, exist_ok=True)
    output = arguments.out_dir / f"fleet-profile-{server.spec.name}-{label}.txt"
    process = children.start(
        [
            str(py_spy),
            "record",
            "--pid",
            str(server.pid),
            "--duration",
            str(max(1, math.ceil(seconds))),
            "--rate",
            str(PROFILE_RATE_HZ),
            "--gil",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return process, output


def finish_profile(
    children: Children,
    profile: tuple[subprocess.Popen[str], Path] | None,
    *,
    interrupt: bool = False,
) -> dict[str, Any] | None:
    """Wait for py-spy (``interrupt``: stop it now with SIGINT, it then writes its output) and
    summarize; a failed profile is reported, never fatal."""
    if profile is None:
        return None
    process, path = profile
    if interrupt and process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        children.stop(process)
        return {"error": "py-spy did not finish"}
    children.stop(process)
    if not path.exists():
        return {"error": f"py-spy exit status {process.returncode}: {output.strip()[-300:]}"}
    return {"file": str(path), **summarize_profile(path)}


_ENTRY_FRAMES = re.compile(r"\(chargedeck/(cli/|server/app\.py|__main__)")
"""Frames every sample of the main thread has (the command line, the composition root)."""
_FRAME_FILE = re.compile(r"\(([^()]*?)\.py:\d+\)$")


def _area(frame: str) -> str:
    """``chargedeck/store`` for ChargeDeck's frames, the top-level package for the others."""
    match = _FRAME_FILE.search(frame)
    if match is None:
        return "other"
    parts = match.group(1).split("/")
    if parts[0] == "chargedeck" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0] if len(parts) > 1 else match.group(1)


def summarize_profile(path: Path) -> dict[str, Any]:
    """Where the server's time went (samples of the thread holding the GIL): the share per area
    of the innermost frame (``chargedeck/store``, ``sqlalchemy``, ``websockets``...), per
    innermost function, and per ChargeDeck function including what it calls."""
    leaves: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[frames[-1]] += count
        areas[_area(frames[-1])] += count
        functions = {
            re.sub(r":\d+\)$", ")", frame)
            for frame in frames
            if "(chargedeck/" in frame and not _ENTRY_FRAMES.search(frame)
        }
        for function in functions:
            inclusive[function] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "rate_hz": PROFILE_RATE_HZ,
        "self_by_area": {name: round(c / total, 3) for name, c in areas.most_common(10)},
        "self_top": {name: round(c / total, 3) for name, c in leaves.most_common(12)},
        "chargedeck_inclusive_top": {
            name: round(c / total, 3) for name, c in inclusive.most_common(15)
        },
    }


# --------------------------------------------------------------------------------------------
# One server through all steps


def _run_step(result: dict[str, Any], name: str, step: Any, *args: Any, **kwargs: Any) -> bool:
    started = time.perf_counter()
    print(f"   {name} ...", flush=True)
    try:
        result[name] = step(*args, **kwargs)
    except StepFailedError as error:
        result[name] = {"error": str(error)}
        print(f"   {name}: problem: {error}", flush=True)
        return False
    result[name]["step_s"] = time.perf_counter() - started
    return True


def measure_server(
    children: Children, spec: ServerSpec, arguments: argparse.Namespace
) -> dict[str, Any]:
    print(f"== {spec.label}", flush=True)
    result: dict[str, Any] = {"available": True, "argv": spec.argv}
    hold_here = arguments.hold > 0 and spec.name in arguments.hold_servers
    skip = arguments.skip
    rounds: list[tuple[str, list[tuple[str, Any, dict[str, Any]]]]] = [
        (
            "load",
            [
                *([("open_loop", step_open_loop, {})] if "open_loop" not in skip else []),
                *([("ramp", step_ramp, {})] if arguments.ramp_steps else []),
            ],
        ),
        (
            "idle-ws",
            [
                *([("idle_ws", step_idle, {"tls": False})] if arguments.idle else []),
                *([("storm", step_storm, {})] if arguments.storm else []),
            ],
        ),
        ("idle-wss", [("idle_wss", step_idle, {"tls": True})] if arguments.idle else []),
        (
            "hold-ws",
            [("hold_ws", step_hold, {"tls": False})]
            if hold_here and "ws" in arguments.hold_transports
            else [],
        ),
        (
            "hold-wss",
            [("hold_wss", step_hold, {"tls": True})]
            if hold_here and "wss" in arguments.hold_transports
            else [],
        ),
    ]
    for label, steps in rounds:
        if not steps:
            continue
        try:
            server = start_server(children, spec, arguments.scratch)
        except ServerUnavailableError as error:
            print(f"   {spec.name}: not available ({error})", flush=True)
            if label == "load":
                return {"available": False, "reason": str(error)}
            result[label] = {"error": str(error)}
            continue
        print(f"   [{label}] pid {server.pid}, ws {server.ports['ws']}, wss {server.ports['wss']}")
        try:
            if label != "load":
                warm_up(children, server, arguments)
            for name, step, options in steps:
                if server.process.poll() is not None:
                    result[name] = {"error": f"server exited with {server.process.returncode}"}
                    continue
                _run_step(result, name, step, children, server, arguments, **options)
        except StepFailedError as error:
            result[label] = {"error": str(error)}
            print(f"   [{label}] problem: {error}", flush=True)
        finally:
            children.stop(server.process)
            errors = server.error_lines()
            if errors:
                result.setdefault("server_errors", []).extend(errors)
                for line in errors[-3:]:
                    print(f"   server said: {line}", flush=True)
    return result


# --------------------------------------------------------------------------------------------
# Report


def _ms(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1000


def row_figures(result: dict[str, Any]) -> dict[str, float | None]:
    """The figures of one server's row (None when not measured)."""
    open_loop = result.get("open_loop", {})
    overall = open_loop.get("overall", {})
    ramp = result.get("ramp", {})
    storm = result.get("storm", {})
    held = [result.get(name, {}).get("held") or 0 for name in ("hold_ws", "hold_wss")]
    idle = [result.get(name, {}).get("connections") or 0 for name in ("idle_ws", "idle_wss")]
    storm_back = storm.get("back") if storm.get("nothing_lost") else None
    return {
        "msgs_per_s": open_loop.get("achieved_per_s"),
        "cpu_us_per_msg": open_loop.get("server_cpu_us_per_msg"),
        "core_percent": open_loop.get("server_core_percent"),
        "p50_ms": _ms(overall.get("p50_us")),
        "p99_ms": _ms(overall.get("p99_us")),
        "max_ms": _ms(overall.get("max_us")),
        "errors": (open_loop.get("errors") or 0) + (open_loop.get("unanswered") or 0)
        if open_loop
        else None,
        "sustained_per_s": ramp.get("sustained_per_s"),
        "kb_idle_ws": result.get("idle_ws", {}).get("kb_per_connection"),
        "kb_idle_wss": result.get("idle_wss", {}).get("kb_per_connection"),
        "held": float(max([*held, *idle, storm_back or 0])) or None,
        "storm_s": storm.get("storm_s"),
    }


COLUMNS = (
    ("msgs_per_s", "msgs/s", 0, 8),
    ("cpu_us_per_msg", "µs/msg", 1, 8),
    ("core_percent", "%core", 1, 7),
    ("p50_ms", "p50 ms", 1, 10),
    ("p99_ms", "p99 ms", 1, 10),
    ("max_ms", "max ms", 1, 10),
    ("errors", "err+unans", 0, 10),
    ("sustained_per_s", "ramp ok/s", 0, 10),
    ("kb_idle_ws", "KB ws", 1, 7),
    ("kb_idle_wss", "KB wss", 1, 7),
    ("held", "held", 0, 8),
    ("storm_s", "storm s", 1, 8),
)
SHORT_NAMES = {"chargedeck": "cd", "chargedeck-pg": "cd-pg", "reference": "ref", "echo": "echo"}


def print_report(results: dict[str, Any]) -> dict[str, Any]:
    settings = results["settings"]
    servers: dict[str, Any] = results["servers"]
    print()
    print(
        f"open loop: {settings['chargers']} chargers, {settings['rate']:g} msgs/s offered "
        f"({settings['arrivals']}), mix {settings['mix']}, {settings['duration_s']:g} s window; "
        f"ramp {settings['ramp_steps']} (p99 bound {settings['p99_bound_ms']:g} ms); idle "
        f"{settings['idle']} ws & wss; storm {settings['storm']}; hold {settings['hold'] or 'off'}"
    )
    header = f"{'server':<15}" + "".join(f"{title:>{width}}" for _, title, _, width in COLUMNS)
    print(header)
    print("-" * len(header))
    figures: dict[str, dict[str, float | None]] = {}
    for name, result in servers.items():
        if not result.get("available"):
            print(f"{name:<15}not available ({result.get('reason', '?')})")
            continue
        figures[name] = row_figures(result)
        print(
            f"{name:<15}"
            + "".join(_fmt(figures[name][key], digits, width) for key, _, digits, width in COLUMNS)
        )
    ratios: dict[str, dict[str, float | None]] = {}
    for subject in ("chargedeck", "chargedeck-pg"):
        for base in ("echo", "reference"):
            if subject not in figures or base not in figures:
                continue
            row = {
                key: (
                    figures[subject][key] / figures[base][key]  # type: ignore[operator]
                    if figures[subject][key] is not None and figures[base][key]
                    else None
                )
                for key, _, _, _ in COLUMNS
            }
            ratios[f"{subject}/{base}"] = row
            label = f"x {SHORT_NAMES[subject]}/{SHORT_NAMES[base]}"
            print(
                f"{label:<15}" + "".join(_fmt(row[key], 2, width) for key, _, _, width in COLUMNS)
            )
    print_details(servers)
    targets = check_targets(servers, settings)
    print()
    for name, target in targets.items():
        print(f"target {name}: {target['verdict']}")
    return {"figures": figures, "ratios": ratios, "targets": targets}


def print_details(servers: dict[str, Any]) -> None:
    print()
    for name, result in servers.items():
        if not result.get("available"):
            continue
        open_loop = result.get("open_loop", {})
        if open_loop.get("by_action"):
            actions = ", ".join(
                f"{action} {_fmt(_ms(figures['p99_us']), 1, 0)}"
                for action, figures in open_loop["by_action"].items()
            )
            print(
                f"{name}: open loop p99 ms per action: {actions}; dispatch lag p99 "
                f"{_fmt(_ms(open_loop['dispatch_lag']['p99_us']), 2, 0)} ms; generator "
                f"{_fmt(open_loop.get('generator_cores'), 2, 0)} cores, other "
                f"{_fmt(open_loop.get('other_cpu_cores'), 2, 0)} cores"
            )
        ramp = result.get("ramp", {})
        if ramp.get("steps"):
            steps = "; ".join(
                f"{step['offered_per_s']:,.0f} -> {step['achieved_per_s']:,.0f}/s p99 "
                f"{_fmt(_ms(step['overall']['p99_us']), 1, 0)} ms "
                f"{_fmt(step.get('server_core_percent'), 0, 0)}%"
                for step in ramp["steps"]
            )
            why = ramp["steps"][-1].get("saturated_because") or ["not reached"]
            print(f"{name}: ramp offered -> achieved: {steps}; saturation: {', '.join(why)}")
        storm = result.get("storm", {})
        if "chargers" in storm:
            print(
                f"{name}: storm {storm['chargers']:,}: back {storm['back']:,} in "
                f"{_fmt(storm['storm_s'], 2, 0)} s (p50 {_fmt(storm['p50_back_s'], 2, 0)} s), "
                f"Boot accepted {storm['boots_accepted']:,}, Status answered "
                f"{storm['status_answered']:,}, failed attempts {storm['failed_attempts']:,} "
                f"{storm['failure_kinds'] or ''}, nothing lost: {storm['nothing_lost']}, "
                f"listen queue drops {storm.get('listen_queue_drops')}"
            )
        for hold_name in ("hold_ws", "hold_wss"):
            hold = result.get(hold_name, {})
            if "held" not in hold:
                continue
            print(
                f"{name}: {hold_name}: held {hold['held']:,} of {hold['requested']:,} "
                f"(connected in {_fmt(hold['connect_and_boot_s'], 1, 0)} s), "
                f"{_fmt(hold['kb_per_connection'], 1, 0)} KB/connection, "
                f"{_fmt(hold['msgs_per_s'], 0, 0)} msgs/s, p50/p99/max "
                f"{_fmt(_ms(hold['overall']['p50_us']), 1, 0)}/"
                f"{_fmt(_ms(hold['overall']['p99_us']), 1, 0)}/"
                f"{_fmt(_ms(hold['overall']['max_us']), 1, 0)} ms, server "
                f"{_fmt(hold['server_core_percent'], 1, 0)}% of a core, errors {hold['errors']}; "
                f"generators {_fmt(hold.get('generator_cores'), 2, 0)} cores, "
                f"{_fmt(hold.get('generator_kb_per_charger'), 1, 0)} KB/charger"
            )
            if hold.get("limited_by"):
                print(f"   limited by {hold['limited_by']}")
            stalls = [
                f"{second}s:{worst / 1000:.1f}s"
                for second, worst in enumerate(hold.get("worst_ms_by_second", []))
                if worst > TARGET_HOLD_P99_MS
            ]
            if stalls:
                print(f"   seconds of the hold with a call slower than 100 ms: {' '.join(stalls)}")
        for step_name in ("open_loop", "storm", "hold_ws", "hold_wss"):
            profile = result.get(step_name, {}).get("profile") or {}
            if "self_by_area" in profile:
                areas = ", ".join(f"{k} {v:.0%}" for k, v in profile["self_by_area"].items())
                top = ", ".join(
                    f"{k.split(' ')[0]} {v:.0%}"
                    for k, v in list(profile["chargedeck_inclusive_top"].items())[:8]
                )
                print(f"{name}: {step_name} profile, GIL time by area: {areas}")
                print(f"{name}: {step_name} profile, ChargeDeck functions incl. callees: {top}")
            elif profile:
                print(f"{name}: {step_name} profile: {profile.get('error')}")
        for step_name in (
            "open_loop",
            "ramp",
            "idle_ws",
            "idle_wss",
            "storm",
            "hold_ws",
            "hold_wss",
        ):
            error = result.get(step_name, {}).get("error")
            if error:
                print(f"{name}: {step_name}: problem: {error}")


RSS_MIN_CONNECTIONS = 1000
"""Below this many connections the RSS per connection is mostly noise (allocator pages)."""


def _verdict(ok: bool | None, text: str, *, at_size: bool = True) -> dict[str, Any]:
    """A target's verdict; a figure measured at a smaller size than the target's (a smoke run)
    is reported but not judged."""
    if ok is None:
        return {"met": None, "verdict": f"not measured ({text})"}
    if not at_size:
        return {"met": None, "verdict": f"not at the target's size ({text})"}
    return {"met": ok, "verdict": ("met" if ok else "NOT met") + f" ({text})"}


def check_targets(servers: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The issue 8 targets, judged on ChargeDeck (SQLite)."""
    subject = servers.get("chargedeck", {})
    targets: dict[str, Any] = {}
    open_loop = subject.get("open_loop", {})
    p99 = _ms(open_loop.get("overall", {}).get("p99_us"))
    cpu = open_loop.get("server_core_percent")
    targets["open_loop_5k"] = _verdict(
        None
        if p99 is None or cpu is None
        else (
            p99 < TARGET_OPEN_P99_MS
            and cpu < TARGET_OPEN_CPU_PERCENT
            and not open_loop.get("errors")
            and not open_loop.get("unanswered")
        ),
        f"p99 {_fmt(p99, 1, 0)} ms < {TARGET_OPEN_P99_MS:g}, CPU {_fmt(cpu, 1, 0)}% < "
        f"{TARGET_OPEN_CPU_PERCENT:g}% of a core, errors {open_loop.get('errors')}, at "
        f"{settings['rate']:g} msgs/s",
        at_size=settings["rate"] >= TARGET_OPEN_RATE,
    )
    for transport, limit in (("ws", TARGET_KB_WS), ("wss", TARGET_KB_WSS)):
        hold = subject.get(f"hold_{transport}", {})
        idle = subject.get(f"idle_{transport}", {})
        kb = hold.get("kb_per_connection", idle.get("kb_per_connection"))
        connections = hold["held"] if "held" in hold else idle.get("connections", 0)
        where = f"{connections:,} {'held' if 'held' in hold else 'idle'}"
        targets[f"rss_idle_{transport}"] = _verdict(
            None if kb is None else kb <= limit,
            f"{_fmt(kb, 1, 0)} KB <= {limit:g} KB, {where}",
            at_size=connections >= RSS_MIN_CONNECTIONS,
        )
        if "held" in hold:
            held = hold["held"]
            hold_p99 = _ms(hold["overall"]["p99_us"])
            targets[f"hold_{transport}"] = _verdict(
                held >= TARGET_HOLD_CHARGERS
                and hold_p99 is not None
                and hold_p99 < TARGET_HOLD_P99_MS
                and not hold["errors"],
                f"{held:,} of {TARGET_HOLD_CHARGERS:,} chargers held, p99 "
                f"{_fmt(hold_p99, 1, 0)} ms < {TARGET_HOLD_P99_MS:g}",
                at_size=hold["requested"] >= TARGET_HOLD_CHARGERS,
            )
    storm = subject.get("storm", {})
    storm_s = storm.get("storm_s")
    targets["storm_10k"] = _verdict(
        None if storm_s is None else (storm_s < TARGET_STORM_S and storm["nothing_lost"]),
        f"{storm.get('chargers', 0):,} chargers back in {_fmt(storm_s, 2, 0)} s "
        f"< {TARGET_STORM_S:g} s, nothing lost: {storm.get('nothing_lost')}",
        at_size=storm.get("chargers", 0) >= TARGET_STORM_CHARGERS,
    )
    return targets


# --------------------------------------------------------------------------------------------
# Main


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ALL_SERVERS), help="echo,reference,chargedeck")
    parser.add_argument(
        "--chargedeck-database-url",
        help="also run chargedeck on PostgreSQL: postgresql://USER@HOST:PORT/SCRATCH_DB "
        "(created before, dropped after; must not exist)",
    )
    parser.add_argument("--chargers", type=int, default=1000, help="open loop and ramp fleet")
    parser.add_argument("--rate", type=float, default=5000.0, help="open loop msgs/s offered")
    parser.add_argument("--arrivals", choices=("poisson", "even"), default="poisson")
    parser.add_argument("--warmup", type=float, default=3.0, help="open loop warm-up, s")
    parser.add_argument("--duration", type=float, default=10.0, help="open loop window, s")
    parser.add_argument(
        "--ramp-steps",
        default="1000,2000,3000,4000,5000,7500,10000,15000,20000",
        help="offered msgs/s per ramp step ('' skips the ramp)",
    )
    parser.add_argument("--ramp-warmup", type=float, default=1.0)
    parser.add_argument("--ramp-duration", type=float, default=5.0)
    parser.add_argument("--ramp-drain", type=float, default=5.0)
    parser.add_argument("--p99-bound-ms", type=float, default=100.0, help="ramp stops above")
    parser.add_argument("--idle", type=int, default=5000, help="idle connections, ws and wss")
    parser.add_argument("--storm", type=int, default=10_000, help="storm chargers (0 skips)")
    parser.add_argument("--storm-deadline", type=float, default=120.0)
    parser.add_argument("--hold", type=int, default=0, help="held chargers, e.g. 50000 (0 skips)")
    parser.add_argument("--hold-seconds", type=float, default=120.0)
    parser.add_argument("--hold-interval", type=float, default=60.0)
    parser.add_argument("--hold-drain", type=float, default=10.0)
    parser.add_argument("--hold-servers", default="chargedeck", help="servers the hold runs on")
    parser.add_argument("--hold-transports", default="ws,wss", help="hold over ws, wss or both")
    parser.add_argument(
        "--hold-delay",
        type=float,
        default=0.0,
        help="seconds between the RSS reading and the hold window (e.g. 75: after ChargeDeck's "
        "configuration snapshots, 60 s after each Boot)",
    )
    parser.add_argument("--concurrency", type=int, default=100, help="connections opened at once")
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds between the last connection's StatusNotification and the RSS reading "
        "(as bench/run.py; a third of it before the baseline reading)",
    )
    parser.add_argument(
        "--warm", type=int, default=100, help="connections opened and closed before a baseline"
    )
    parser.add_argument("--skip", default="", help="open_loop: run the other steps only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy profiles of the server over the open-loop window and the storm",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="JSON and PNG files")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes for CI: 50 chargers, 200 msgs/s for 2 s, ramp 100,200, idle 50, "
        "storm 100 (explicit options still win)",
    )
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        defaults = {
            "chargers": 50,
            "rate": 200.0,
            "warmup": 0.5,
            "duration": 2.0,
            "ramp_steps": "100,200",
            "ramp_warmup": 0.3,
            "ramp_duration": 1.0,
            "ramp_drain": 2.0,
            "idle": 50,
            "storm": 100,
            "settle": 0.5,
            "warm": 10,
            "concurrency": 50,
        }
        given = {
            a.dest
            for a in parser._actions
            if any(o in (argv or sys.argv[1:]) for o in a.option_strings)
        }
        for key, value in defaults.items():
            if key not in given:
                setattr(arguments, key, value)
    arguments.only = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = sorted(set(arguments.only) - set(ALL_SERVERS))
    if unknown:
        parser.error(f"--only: unknown server(s) {', '.join(unknown)}")
    arguments.hold_servers = {name.strip() for name in arguments.hold_servers.split(",")}
    arguments.hold_transports = {name.strip() for name in arguments.hold_transports.split(",")}
    arguments.skip = {name.strip() for name in arguments.skip.split(",") if name.strip()}
    if arguments.skip - {"open_loop"}:
        parser.error("--skip: only open_loop (--ramp-steps '', --idle 0, --storm 0 skip the rest)")
    return arguments


def _settings(arguments: argparse.Namespace) -> dict[str, Any]:
    return {
        "servers": arguments.only,
        "chargers": arguments.chargers,
        "rate": arguments.rate,
        "arrivals": arguments.arrivals,
        "mix": "70% MeterValues, 15% Heartbeat, 10% StatusNotification, 5% Start/Stop",
        "warmup_s": arguments.warmup,
        "duration_s": arguments.duration,
        "ramp_steps": arguments.ramp_steps,
        "ramp_warmup_s": arguments.ramp_warmup,
        "ramp_duration_s": arguments.ramp_duration,
        "p99_bound_ms": arguments.p99_bound_ms,
        "idle": arguments.idle,
        "storm": arguments.storm,
        "hold": arguments.hold,
        "hold_seconds": arguments.hold_seconds,
        "hold_delay_s": arguments.hold_delay,
        "hold_transports": sorted(arguments.hold_transports),
        "hold_interval_s": arguments.hold_interval,
        "hold_servers": sorted(arguments.hold_servers),
        "concurrency": arguments.concurrency,
        "profile": arguments.profile,
        "open_files_limit": _own_fd_limit(),
    }


def run(arguments: argparse.Namespace, children: Children) -> dict[str, Any]:
    results: dict[str, Any] = {
        "settings": _settings(arguments),
        "environment": environment(),
        "started_at": datetime.now(UTC).isoformat(),
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="chargedeck-fleet-") as scratch_text:
        scratch = Path(scratch_text)
        arguments.scratch = scratch
        arguments.certs = make_certificates(scratch)
        for spec in server_specs(arguments, scratch, arguments.certs):
            url = (
                spec.argv[spec.argv.index("--database-url") + 1]
                if "--database-url" in spec.argv
                else None
            )
            try:
                with contextlib.ExitStack() as stack:
                    if spec.name == "chargedeck-pg":
                        stack.enter_context(
                            scratch_postgres_database(arguments.chargedeck_database_url)
                        )
                    if url is not None:
                        register_id_tags(url, ID_TAGS)
                    results["servers"][spec.name] = measure_server(children, spec, arguments)
            except ServerUnavailableError as error:
                print(f"   {spec.name}: not available ({error})", flush=True)
                results["servers"][spec.name] = {"available": False, "reason": str(error)}
    results["started_pids"] = list(children.pids)
    return results


def write_outputs(results: dict[str, Any], arguments: argparse.Namespace) -> list[Path]:
    from fleet_plots import plot_latency, plot_throughput

    arguments.out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, plot in (
        ("fleet-latency.png", plot_latency),
        ("fleet-throughput.png", plot_throughput),
    ):
        path = arguments.out_dir / name
        plot(results, path)
        written.append(path)
    results["plots"] = [str(path) for path in written]
    for path in [
        arguments.out_dir / "fleet-latest.json",
        *([arguments.json] if arguments.json else []),
    ]:
        path.write_text(json.dumps(results, indent=1) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    raise_open_files_limit()
    children = Children()

    def on_terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_terminate)
    started = time.perf_counter()
    try:
        results = run(arguments, children)
    finally:
        children.stop_all()
    results["elapsed_s"] = time.perf_counter() - started
    results.update(print_report(results))
    written = write_outputs(results, arguments)
    print(f"\nwritten: {', '.join(str(path) for path in written)} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
