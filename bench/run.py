"""ChargeDeck benchmark: one invocation, three servers, one workload, figures and ratios.

Runs the same closed-loop workload (``--chargers`` chargers, one outstanding CALL each; a
MeterValues-only phase and a Heartbeat-only phase) and the same idle-connection test
(``--idle`` connections after BootNotification + StatusNotification) against:

* ``echo``: a raw websockets server that answers each CALL by byte slicing (transport ceiling),
* ``reference``: a CSMS on the PyPI ``ocpp`` library's ChargePoint with do-nothing handlers,
* ``chargedeck``: ``chargedeck serve`` with SQLite persistence (and, with
  ``--chargedeck-database-url postgresql://...``, again with PostgreSQL on a scratch database).

Each server is a subprocess on 127.0.0.1, port 0, with RLIMIT_NOFILE raised; the load generator
(bench/loadgen.py) is another subprocess that measures the server's CPU over exactly its measured
window. Results: a table on stdout, bench/results/latest.json, and ``--json FILE`` if given.
See bench/README.md for what each figure means and the fairness rules.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_FILE = BENCH_DIR / "results" / "latest.json"
LOADGEN = BENCH_DIR / "loadgen.py"

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
IDLE_SETTLE_S = 3.0
"""Seconds between the last idle connection's StatusNotification and the RSS reading, so
per-connection buffers and any deferred work (batch writers, log flushes) have settled."""
BEFORE_IDLE_SETTLE_S = 1.0

TARGET_ECHO_RATIO = 0.80
TARGET_REFERENCE_RATIO = 12.0
TARGET_KB_PER_IDLE_CONNECTION = 18.0

ALL_SERVERS = ("echo", "reference", "chargedeck")
CHARGEDECK_TRANSPORTS = ("websockets", "picows")  # the ocpp_transport setting's values


# --------------------------------------------------------------------------------------------
# Server processes


def _raise_open_files_limit() -> None:
    """5,000 idle connections need more than the usual 1,024 fds. Raised here, in the harness,
    before any child starts: every server and generator inherits it (no preexec_fn, which is
    unsafe beside the output-draining threads)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class ServerSpec:
    name: str
    argv: list[str]
    ready_pattern: re.Pattern[str]
    cwd: Path
    label: str


@dataclass
class RunningServer:
    spec: ServerSpec
    process: subprocess.Popen[str]
    port: int
    output_tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))


class ServerUnavailableError(Exception):
    """The server could not be started; the message says why (shown as 'not available')."""


def _drain(stream: IO[str], tail: deque[str]) -> None:
    """Keep reading a child's output so a chatty logger can never block it on a full pipe."""
    for line in stream:
        tail.append(line.rstrip("\n"))


def start_server(spec: ServerSpec) -> RunningServer:
    """Start the server and wait for its ready line; raises ServerUnavailableError with a reason."""
    try:
        process = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except OSError as error:
        raise ServerUnavailableError(f"cannot execute {spec.argv[0]}: {error}") from error
    assert process.stdout is not None
    tail: deque[str] = deque(maxlen=40)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    port = 0
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        tail.append(line.rstrip("\n"))
        match = spec.ready_pattern.search(line)
        if match:
            port = int(match.group(1))
            break
    if not port:
        stop_process(process)
        last = " | ".join(list(tail)[-5:]) or "no output"
        status = process.returncode
        raise ServerUnavailableError(
            f"no ready line matching {spec.ready_pattern.pattern!r} within "
            f"{SERVER_START_TIMEOUT_S:.0f} s (exit status {status}; last output: {last})"
        )
    threading.Thread(target=_drain, args=(process.stdout, tail), daemon=True).start()
    return RunningServer(spec=spec, process=process, port=port, output_tail=tail)


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM by pid, then SIGKILL after SERVER_STOP_TIMEOUT_S."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(SERVER_STOP_TIMEOUT_S)


def process_tree_rss_bytes(pid: int) -> int:
    process = psutil.Process(pid)
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


# --------------------------------------------------------------------------------------------
# Load generator runs


def _loadgen_argv(server: RunningServer, arguments: argparse.Namespace, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(LOADGEN),
        "--port",
        str(server.port),
        "--impl",
        arguments.generator_impl,
        *extra,
    ]


def _json_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        text = line.strip()
        if text.startswith("{"):
            yield json.loads(text)


def run_closed_loop(server: RunningServer, arguments: argparse.Namespace) -> dict[str, Any]:
    """Run the closed-loop phases; returns {"phases": {kind: result}, "errors": [...]}."""
    phases = ["meter", "heartbeat"]
    timeout = 120 + len(phases) * (arguments.duration + arguments.warmup)
    completed = subprocess.run(
        _loadgen_argv(
            server,
            arguments,
            "--mode",
            "closed",
            "--chargers",
            str(arguments.chargers),
            "--duration",
            str(arguments.duration),
            "--warmup",
            str(arguments.warmup),
            "--phases",
            ",".join(phases),
            "--server-pid",
            str(server.process.pid),
        ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    results: dict[str, Any] = {"phases": {}}
    for event in _json_events(iter(completed.stdout.splitlines())):
        if event["event"] == "phase":
            results["phases"][event["phase"]] = event
        elif event["event"] == "connected":
            results["connect_s"] = event["seconds"]
        elif event["event"] == "error":
            results["error"] = f"load generator: {event['message']}"
    if "error" not in results and (
        completed.returncode != 0 or len(results["phases"]) != len(phases)
    ):
        stderr_tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        results["error"] = f"load generator exit status {completed.returncode}: {stderr_tail}"
    return results


def run_closed_loop_rounds(server: RunningServer, arguments: argparse.Namespace) -> dict[str, Any]:
    """--rounds closed-loop runs; per phase keep the least disturbed window (lowest
    ``other_cpu_cores``), and keep every round in ``rounds`` for the record."""
    rounds: list[dict[str, Any]] = []
    for number in range(1, arguments.rounds + 1):
        print(f"   closed loop, round {number}/{arguments.rounds}", flush=True)
        rounds.append(run_closed_loop(server, arguments))
        if rounds[-1].get("error"):
            break
    best: dict[str, Any] = {"phases": {}, "rounds": rounds}
    for run in rounds:
        if run.get("error"):
            best["error"] = run["error"]
        for kind, phase in run["phases"].items():
            kept = best["phases"].get(kind)
            if kept is None or phase["other_cpu_cores"] < kept["other_cpu_cores"]:
                best["phases"][kind] = phase
    return best


def run_idle(server: RunningServer, arguments: argparse.Namespace) -> dict[str, Any]:
    """Open --idle connections, read the server's RSS before and after, release them."""
    time.sleep(BEFORE_IDLE_SETTLE_S)
    rss_before = process_tree_rss_bytes(server.process.pid)
    generator = subprocess.Popen(
        _loadgen_argv(
            server,
            arguments,
            "--mode",
            "idle",
            "--chargers",
            str(arguments.idle),
            "--hold",
            str(120 + arguments.idle / 50),
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert generator.stdin is not None
    assert generator.stdout is not None
    result: dict[str, Any] = {"connections": arguments.idle, "rss_before_bytes": rss_before}
    try:
        for event in _json_events(iter(generator.stdout.readline, "")):
            if event["event"] == "error":
                result["error"] = f"load generator: {event['message']}"
            if event["event"] == "idle_ready":
                result["connect_and_boot_s"] = event["seconds"]
                time.sleep(IDLE_SETTLE_S)
                rss_after = process_tree_rss_bytes(server.process.pid)
                result["rss_after_bytes"] = rss_after
                result["kb_per_connection"] = (rss_after - rss_before) / 1024 / arguments.idle
                break
        generator.stdin.close()
        generator.wait(60)
    finally:
        if generator.poll() is None:
            stop_process(generator)
    if "kb_per_connection" not in result and "error" not in result:
        stderr = generator.stderr.read() if generator.stderr else ""
        result["error"] = f"load generator exit status {generator.returncode}: " + " | ".join(
            stderr.strip().splitlines()[-5:]
        )
    return result


def measure_server(spec: ServerSpec, arguments: argparse.Namespace) -> dict[str, Any]:
    print(f"== {spec.label}", flush=True)
    try:
        server = start_server(spec)
    except ServerUnavailableError as error:
        print(f"   {spec.name}: not available ({error})", flush=True)
        return {"available": False, "reason": str(error)}
    result: dict[str, Any] = {"available": True, "argv": spec.argv, "pid": server.process.pid}
    try:
        print(f"   listening on 127.0.0.1:{server.port}", flush=True)
        result["closed_loop"] = run_closed_loop_rounds(server, arguments)
        connected = bool(result["closed_loop"]["phases"])
        if arguments.idle > 0 and connected and server.process.poll() is None:
            print(f"   idle: {arguments.idle} connections", flush=True)
            result["idle"] = run_idle(server, arguments)
    finally:
        stop_process(server.process)
    if server.process.returncode not in (0, -signal.SIGTERM):
        result["exit_status"] = server.process.returncode
        result["output_tail"] = list(server.output_tail)[-10:]
    problems = [result["closed_loop"].get("error"), result.get("idle", {}).get("error")]
    for problem in filter(None, problems):
        print(f"   problem: {problem}", flush=True)
    if any(problems):
        result["output_tail"] = list(server.output_tail)[-20:]
        errors = [line for line in server.output_tail if "ERROR" in line or "Error" in line]
        for line in errors[-3:]:
            print(f"   server said: {line[:300]}", flush=True)
    return result


# --------------------------------------------------------------------------------------------
# PostgreSQL scratch database


@contextlib.contextmanager
def scratch_postgres_database(url: str) -> Iterator[str]:
    """Create the database named in the URL, yield the URL, drop it afterwards.

    Refuses (ServerUnavailableError) when it already exists: the benchmark only ever drops a
    database it created itself."""
    import asyncpg

    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ServerUnavailableError(f"database name {database!r}: use [a-z_][a-z0-9_]*")
    admin_url = urlunsplit(parts._replace(path="/postgres"))

    async def execute(statement: str) -> bool:
        connection = await asyncpg.connect(admin_url)
        try:
            exists = await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", database
            )
            if statement == "CREATE" and exists:
                return False
            if statement == "CREATE":
                await connection.execute(f'CREATE DATABASE "{database}"')
            elif exists:
                await connection.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            return True
        finally:
            await connection.close()

    try:
        created = asyncio.run(execute("CREATE"))
    except (OSError, asyncpg.PostgresError) as error:
        raise ServerUnavailableError(f"PostgreSQL at {parts.hostname}: {error}") from error
    if not created:
        raise ServerUnavailableError(f"database {database!r} exists; give a new scratch name")
    try:
        yield url
    finally:
        asyncio.run(execute("DROP"))


# --------------------------------------------------------------------------------------------
# Report


def _phase(result: dict[str, Any], kind: str) -> dict[str, Any]:
    phases: dict[str, dict[str, Any]] = result.get("closed_loop", {}).get("phases", {})
    return phases.get(kind, {})


def _action(phase: dict[str, Any]) -> dict[str, Any]:
    by_action: dict[str, Any] = phase.get("by_action", {})
    return next(iter(by_action.values()), {})


def _fmt(value: float | None, digits: int = 0, width: int = 9) -> str:
    if value is None:
        return "-".rjust(width)
    return f"{value:,.{digits}f}".rjust(width)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def print_report(results: dict[str, Any]) -> dict[str, Any]:
    servers: dict[str, Any] = results["servers"]
    print()
    print(
        f"closed loop: {results['settings']['chargers']} chargers, one outstanding CALL each, "
        f"{results['settings']['duration_s']:g} s measured per phase; "
        f"idle: {results['settings']['idle']} connections"
    )
    header = (
        f"{'server':<15}{'phase':<11}{'msgs/s':>9}{'srv µs/msg':>11}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'srv cores':>10}{'gen µs/msg':>11}{'gen cores':>10}{'other cores':>12}"
        f"{'irq+steal':>10}{'errors':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, result in servers.items():
        if not result.get("available"):
            print(f"{name:<15}not available ({result.get('reason', '?')})")
            continue
        for kind in ("meter", "heartbeat"):
            phase = _phase(result, kind)
            action = _action(phase)
            p50, p99 = action.get("p50_us"), action.get("p99_us")
            print(
                f"{name:<15}{kind:<11}{_fmt(phase.get('calls_per_s'))}"
                f"{_fmt(phase.get('server_cpu_us_per_call'), 1, 11)}"
                f"{_fmt(p50 / 1000 if p50 else None, 1, 8)}"
                f"{_fmt(p99 / 1000 if p99 else None, 1, 8)}"
                f"{_fmt(phase.get('server_cores'), 2, 10)}"
                f"{_fmt(phase.get('generator_cpu_us_per_call'), 1, 11)}"
                f"{_fmt(phase.get('generator_cores'), 2, 10)}"
                f"{_fmt(phase.get('other_cpu_cores'), 2, 12)}"
                f"{_fmt(phase.get('interrupt_and_steal_cores'), 2, 10)}"
                f"{_fmt(phase.get('errors'), 0, 7)}"
            )
        idle = result.get("idle", {})
        if idle.get("kb_per_connection") is not None:
            print(
                f"{name:<15}{'idle':<11}{_fmt(idle.get('kb_per_connection'), 1)} KB/connection "
                f"(RSS {_fmt(idle.get('rss_before_bytes', 0) / 2**20, 1, 0)} -> "
                f"{_fmt(idle.get('rss_after_bytes', 0) / 2**20, 1, 0)} MiB; "
                f"{idle.get('connections')} connected+booted in "
                f"{_fmt(idle.get('connect_and_boot_s'), 1, 0)} s)"
            )

    ratios: dict[str, Any] = {}
    subject = servers.get("chargedeck", {})
    print()
    for name in ("chargedeck", "chargedeck-picows"):
        if name not in servers:
            continue
        for base in ("echo", "reference"):
            baseline = servers.get(base, {})
            for kind in ("meter", "heartbeat"):
                rate = _ratio(
                    _phase(servers[name], kind).get("calls_per_s"),
                    _phase(baseline, kind).get("calls_per_s"),
                )
                cpu = _ratio(
                    _phase(servers[name], kind).get("server_cpu_us_per_call"),
                    _phase(baseline, kind).get("server_cpu_us_per_call"),
                )
                ratios[f"{name}/{base}/{kind}"] = {"msgs_per_s": rate, "cpu_us_per_msg": cpu}
                print(
                    f"{name + '/' + base:<27} {kind:<9}: msgs/s x{_fmt(rate, 2, 0)}, "
                    f"CPU µs/msg x{_fmt(cpu, 2, 0)}"
                )
    reference_vs_echo = _ratio(
        _phase(servers.get("reference", {}), "meter").get("calls_per_s"),
        _phase(servers.get("echo", {}), "meter").get("calls_per_s"),
    )
    ratios["reference/echo/meter"] = {"msgs_per_s": reference_vs_echo}
    print(f"reference/echo     meter    : msgs/s x{_fmt(reference_vs_echo, 2, 0)}")

    echo_ratio = ratios.get("chargedeck/echo/meter", {}).get("msgs_per_s")
    reference_ratio = ratios.get("chargedeck/reference/meter", {}).get("msgs_per_s")
    kb = subject.get("idle", {}).get("kb_per_connection")
    targets = {
        "meter_vs_echo": _target(echo_ratio, TARGET_ECHO_RATIO, at_least=True),
        "meter_vs_reference": _target(reference_ratio, TARGET_REFERENCE_RATIO, at_least=True),
        "kb_per_idle_connection": _target(kb, TARGET_KB_PER_IDLE_CONNECTION, at_least=False),
    }
    print()
    print(
        f"targets: MeterValues >= {TARGET_ECHO_RATIO:.0%} of echo: "
        f"{targets['meter_vs_echo']['verdict']}; "
        f">= {TARGET_REFERENCE_RATIO:g}x reference: {targets['meter_vs_reference']['verdict']}; "
        f"<= {TARGET_KB_PER_IDLE_CONNECTION:g} KB per idle connection: "
        f"{targets['kb_per_idle_connection']['verdict']}"
    )
    return {"ratios": ratios, "targets": targets}


def _target(value: float | None, target: float, *, at_least: bool) -> dict[str, Any]:
    if value is None:
        verdict = "not measured"
    elif (value >= target) if at_least else (value <= target):
        verdict = f"met ({value:.2f})"
    else:
        verdict = f"NOT met ({value:.2f})"
    return {"value": value, "target": target, "verdict": verdict}


# --------------------------------------------------------------------------------------------
# Main


def server_specs(arguments: argparse.Namespace, scratch: Path) -> list[ServerSpec]:
    ready = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
    chargedeck_ready = re.compile(r"ocpp listening on \S*?:(\d+)")
    chargedeck = Path(sys.executable).parent / "chargedeck"
    specs: list[ServerSpec] = []
    for name in arguments.only:
        if name == "echo":
            specs.append(
                ServerSpec(
                    "echo",
                    [sys.executable, str(BENCH_DIR / "echo_server.py"), "--port", "0"],
                    ready,
                    scratch,
                    "echo: raw websockets, reply cut from the CALL by byte slicing",
                )
            )
        elif name == "reference":
            specs.append(
                ServerSpec(
                    "reference",
                    [sys.executable, str(BENCH_DIR / "reference_csms.py"), "--port", "0"],
                    ready,
                    scratch,
                    "reference: PyPI ocpp 2.x ChargePoint, do-nothing handlers",
                )
            )
        elif name == "chargedeck":
            # (label, database, --ocpp-transport): SQLite on each transport asked for, then
            # PostgreSQL (websockets) when a scratch database is given.
            variants = [
                (
                    "chargedeck" if transport == "websockets" else f"chargedeck-{transport}",
                    f"sqlite:///{scratch / f'bench-{transport}.db'}",
                    transport,
                )
                for transport in arguments.chargedeck_transports
            ]
            if arguments.chargedeck_database_url:
                variants.append(("chargedeck-pg", arguments.chargedeck_database_url, "websockets"))
            for label, url, transport in variants:
                specs.append(
                    ServerSpec(
                        label,
                        [
                            str(chargedeck),
                            "serve",
                            "--ocpp-host",
                            "127.0.0.1",
                            "--ocpp-port",
                            "0",
                            "--http-port",
                            "0",
                            "--database-url",
                            url,
                            "--unknown-charge-points",
                            "accept",
                            "--ocpp-transport",
                            transport,
                        ],
                        chargedeck_ready,
                        scratch,
                        f"{label}: chargedeck serve, {url.split(':', 1)[0]} persistence, "
                        f"{transport} transport",
                    )
                )
    return specs


def environment() -> dict[str, Any]:
    def version(package: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version

        try:
            return package_version(package)
        except PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "git_commit": commit or None,
        "packages": {
            name: version(name) for name in ("websockets", "uvloop", "ocpp", "msgspec", "psutil")
        },
    }


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per phase")
    parser.add_argument("--chargers", type=int, default=100, help="closed-loop chargers")
    parser.add_argument("--idle", type=int, default=5000, help="idle connections (0 skips)")
    parser.add_argument(
        "--only",
        default=",".join(ALL_SERVERS),
        help=f"comma-separated subset of {','.join(ALL_SERVERS)}",
    )
    parser.add_argument(
        "--generator-impl",
        choices=("protocol", "raw", "connection"),
        default="protocol",
        help="load generator client: websockets sans-I/O (default), hand framing after the "
        "websockets handshake, or the websockets asyncio client (see bench/README.md)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="closed-loop runs per server; per phase the least disturbed one is reported",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--chargedeck-database-url",
        help="also run chargedeck on PostgreSQL: postgresql://USER@HOST:PORT/SCRATCH_DB "
        "(created before, dropped after; must not exist)",
    )
    parser.add_argument(
        "--chargedeck-transports",
        default=",".join(CHARGEDECK_TRANSPORTS),
        help="comma-separated OCPP transports to run chargedeck on (chargedeck = websockets, "
        "chargedeck-picows = picows)",
    )
    arguments = parser.parse_args(argv)
    arguments.chargedeck_transports = [
        name.strip() for name in arguments.chargedeck_transports.split(",") if name.strip()
    ]
    unknown_transports = sorted(set(arguments.chargedeck_transports) - set(CHARGEDECK_TRANSPORTS))
    if unknown_transports:
        parser.error(f"--chargedeck-transports: unknown {', '.join(unknown_transports)}")
    arguments.only = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = sorted(set(arguments.only) - set(ALL_SERVERS))
    if unknown:
        parser.error(f"--only: unknown server(s) {', '.join(unknown)}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    _raise_open_files_limit()
    results: dict[str, Any] = {
        "settings": {
            "chargers": arguments.chargers,
            "duration_s": arguments.duration,
            "warmup_s": arguments.warmup,
            "idle": arguments.idle,
            "rounds": arguments.rounds,
            "generator_impl": arguments.generator_impl,
            "servers": arguments.only,
        },
        "environment": environment(),
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="chargedeck-bench-") as scratch:
        for spec in server_specs(arguments, Path(scratch)):
            if spec.name == "chargedeck-pg":
                try:
                    with scratch_postgres_database(arguments.chargedeck_database_url):
                        results["servers"][spec.name] = measure_server(spec, arguments)
                except ServerUnavailableError as error:
                    print(f"   {spec.name}: not available ({error})", flush=True)
                    results["servers"][spec.name] = {"available": False, "reason": str(error)}
            else:
                results["servers"][spec.name] = measure_server(spec, arguments)
    results.update(print_report(results))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    for path in [RESULTS_FILE, *([arguments.json] if arguments.json else [])]:
        path.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"\nresults written to {RESULTS_FILE}"
        + (f" and {arguments.json}" if arguments.json else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
