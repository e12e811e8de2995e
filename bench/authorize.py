"""Authorize benchmark: answers/s with 100,000 id tags in the store, beside a Heartbeat baseline.

Issue 5. One ``chargedeck serve`` (SQLite by default; PostgreSQL with ``--database-url
postgresql://USER@HOST:PORT/SCRATCH_DB``, created before and dropped after) whose store holds
``--tags`` id tags, half registered by an idTag that is no card UID (``T0000001``...), half by a
7-byte card UID (``04000000000001``...). ``--chargers`` closed-loop chargers (one CALL
outstanding each: the next leaves when the answer arrives; bench/loadgen.py's charger) send, per
phase, after a warm-up, for ``--duration`` seconds:

* ``heartbeat``: Heartbeat only; the baseline (same connections, same dispatch, no store read);
* ``known``: Authorize of registered tags, half by idTag, half by card UID sent byte-reversed as
  a Wallbox sends it (matched through the card UID index);
* ``mix``: 40 % by idTag, 40 % by reversed card UID, 20 % unknown cards (``--unknown`` distinct
  4-byte UIDs, each answered Invalid and counted in the unknown-tag inbox: one write);
* ``unknown``: unknown cards only (every answer waits for its inbox write to commit).

Every answer is checked: Accepted for a registered tag, Invalid for an unknown one; anything
else counts as an error. Figures: answers/s, server CPU µs per answer (server process only: the
PostgreSQL backends are not its children), p50/p99 latency, and each phase's answers/s against
the Heartbeat baseline. Results: a table on stdout and bench/results/authorize-latest.json.
A run takes about (4 phases x (warm-up + duration)) + seeding: under a minute by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from _support import install_uvloop, raise_open_files_limit
from loadgen import (
    HEARTBEAT,
    ActionStats,
    ChargerState,
    ProtocolCharger,
    Workload,
    close_all,
    measure_phase,
    open_protocol_charger,
)
from run import (
    ServerSpec,
    ServerUnavailableError,
    environment,
    scratch_postgres_database,
    start_server,
    stop_process,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "authorize-latest.json"

BY_ID_TAG = "by id tag"
BY_CARD_UID = "by reversed UID"
UNKNOWN = "unknown"
KINDS = (BY_ID_TAG, BY_CARD_UID, UNKNOWN)
# phase -> share of each kind of idTag sent
PHASES: dict[str, dict[str, float]] = {
    "known": {BY_ID_TAG: 0.5, BY_CARD_UID: 0.5},
    "mix": {BY_ID_TAG: 0.4, BY_CARD_UID: 0.4, UNKNOWN: 0.2},
    "unknown": {UNKNOWN: 1.0},
}
EXPECTED = {BY_ID_TAG: b'"Accepted"', BY_CARD_UID: b'"Accepted"', UNKNOWN: b'"Invalid"'}
SEQUENCE_LENGTH = 4096
"""IdTags each charger cycles through per phase, drawn in advance (no random draw per CALL)."""
SEED_CHUNK = 5_000
"""Rows per INSERT of the seeding (one executemany each)."""


# --------------------------------------------------------------------------------------------
# The store


def id_tag_by_key(index: int) -> str:
    return f"T{index:07d}"


def card_uid(index: int) -> str:
    """A 7-byte card UID as printed (canonical hex), 04 as NXP's manufacturer byte."""
    return f"04{index:012X}"


def reversed_hex(uid: str) -> str:
    return bytes.fromhex(uid)[::-1].hex().upper()


def unknown_card(index: int) -> str:
    """A 4-byte UID no registered tag answers to (the registered cards have 7 bytes)."""
    return f"{0xE0000000 + index:08X}"


async def seed(database_url: str, tags: int) -> float:
    """Migrate the store and insert ``tags`` id tags; returns the seconds it took."""
    import sqlalchemy as sa

    from chargedeck.store import open_store
    from chargedeck.store.schema import id_tags

    started = time.perf_counter()
    now = datetime.now(UTC)
    store = await open_store(database_url, sqlite_synchronous="OFF")
    try:
        for first in range(1, tags + 1, SEED_CHUNK):
            rows = []
            for index in range(first, min(first + SEED_CHUNK, tags + 1)):
                by_card = index % 2 == 0
                tag = card_uid(index) if by_card else id_tag_by_key(index)
                rows.append(
                    {
                        "id_tag": tag,
                        "id_tag_key": tag.upper(),
                        "card_uid": tag if by_card else None,
                        "blocked": False,
                        "owner": f"owner {index % 997}",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            async with store.database.write() as connection:
                await connection.execute(sa.insert(id_tags), rows)
    finally:
        await store.close()
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# The chargers


class AuthorizeWorkload(Workload):
    """Loadgen's workload with one stats entry per kind of idTag, and the answers checked."""

    def __init__(self, tags: int, unknown: int) -> None:
        super().__init__(heartbeat_every=2)
        self.tags = tags
        self.unknown = unknown
        self.reset_stats()

    def reset_stats(self) -> None:
        self.stats = {HEARTBEAT: ActionStats(), **{kind: ActionStats() for kind in KINDS}}
        self.errors = 0

    def sequence(self, rng: random.Random, phase: str) -> list[tuple[str, bytes]]:
        """``SEQUENCE_LENGTH`` (kind, idTag as sent) drawn with the phase's shares."""
        shares = PHASES[phase]
        kinds = rng.choices(list(shares), weights=list(shares.values()), k=SEQUENCE_LENGTH)
        drawn = []
        for kind in kinds:
            if kind == UNKNOWN:
                tag = unknown_card(rng.randrange(self.unknown))
            elif kind == BY_ID_TAG:
                tag = id_tag_by_key(rng.randrange(1, self.tags + 1, 2))
            else:
                tag = reversed_hex(card_uid(rng.randrange(2, self.tags + 1, 2)))
            drawn.append((kind, tag.encode()))
        return drawn


class AuthorizeCharger(ProtocolCharger):
    """Loadgen's closed-loop charger sending Authorize (or Heartbeat in the baseline phase)."""

    def __init__(self, workload: AuthorizeWorkload, state: ChargerState, uri: str) -> None:
        super().__init__(workload, state, uri)
        self.rng = random.Random(state.index)
        self.sequences = {phase: workload.sequence(self.rng, phase) for phase in PHASES}
        self.position = state.index

    def _send_next_call(self) -> None:
        kind_of_phase = self.workload.kind
        if kind_of_phase == "heartbeat":
            super()._send_next_call()
            return
        sequence = self.sequences[kind_of_phase]
        self.position = (self.position + 1) % len(sequence)
        kind, tag = sequence[self.position]
        message_id = self.state.take_message_id()
        self.pending_id = message_id
        self.pending_action = kind
        self.pending_since_ns = time.perf_counter_ns()
        self._send_text(b'[2,"' + message_id + b'","Authorize",{"idTag":"' + tag + b'"}]')

    def _next(self, frame: bytes) -> None:
        expected = EXPECTED.get(self.pending_action)
        if expected is not None and expected not in frame:
            self.workload.record_error(f"{self.pending_action}: {frame[:200]!r}")
        super()._next(frame)


async def run_phases(
    port: int, server_pid: int, arguments: argparse.Namespace
) -> list[dict[str, Any]]:
    workload = AuthorizeWorkload(arguments.tags, arguments.unknown)
    limiter = asyncio.Semaphore(50)

    async def open_one(index: int) -> ProtocolCharger:
        async with limiter:
            return await open_protocol_charger(
                workload, "127.0.0.1", port, index, False, AuthorizeCharger
            )

    chargers = await asyncio.gather(
        *(open_one(index) for index in range(1, arguments.chargers + 1))
    )
    server = psutil.Process(server_pid)
    results = []
    try:
        workload.kind = "heartbeat"
        for charger in chargers:
            charger.start_loop()
        for phase in ("heartbeat", *PHASES):
            result = await measure_phase(
                workload, phase, arguments.warmup, arguments.duration, server
            )
            results.append(result)
            print(
                f"   {phase}: {result['calls_per_s']:,.0f} answers/s, {result['errors']} errors",
                flush=True,
            )
    finally:
        workload.sending = False
        await close_all(list(chargers))
    return results


# --------------------------------------------------------------------------------------------
# One database


def measure(database_url: str, label: str, arguments: argparse.Namespace) -> dict[str, Any]:
    print(f"== {label}: seeding {arguments.tags:,} id tags", flush=True)
    seconds = asyncio.run(seed(database_url, arguments.tags))
    print(f"   seeded in {seconds:.1f} s", flush=True)
    chargedeck = Path(sys.executable).parent / "chargedeck"
    with tempfile.TemporaryDirectory(prefix="chargedeck-authorize-") as scratch:
        spec = ServerSpec(
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
                database_url,
                "--unknown-charge-points",
                "accept",
            ],
            re.compile(r"ocpp listening on \S*?:(\d+)"),
            Path(scratch),
            f"{label}: chargedeck serve",
        )
        server = start_server(spec)
        try:
            install_uvloop()
            phases = asyncio.run(run_phases(server.port, server.process.pid, arguments))
        finally:
            stop_process(server.process)
        errors = [line for line in server.output_tail if " ERROR " in line]
    return {"database": label, "seed_s": seconds, "phases": phases, "server_errors": errors}


def print_report(runs: list[dict[str, Any]]) -> None:
    print()
    header = (
        f"{'database':<11}{'phase':<11}{'answers/s':>11}{'x heartbeat':>13}{'srv µs':>9}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'srv cores':>11}{'other':>7}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        baseline = run["phases"][0]["calls_per_s"]
        for phase in run["phases"]:
            latencies = list(phase["by_action"].values())
            p50 = max((a["p50_us"] or 0) for a in latencies) / 1000 if latencies else 0
            p99 = max((a["p99_us"] or 0) for a in latencies) / 1000 if latencies else 0
            print(
                f"{run['database']:<11}{phase['phase']:<11}{phase['calls_per_s']:>11,.0f}"
                f"{phase['calls_per_s'] / baseline:>13.2f}"
                f"{phase['server_cpu_us_per_call'] or 0:>9.0f}{p50:>8.1f}{p99:>8.1f}"
                f"{phase['server_cores'] or 0:>11.2f}{phase['other_cpu_cores']:>7.2f}"
                f"{phase['errors']:>8}"
            )
        for phase in run["phases"]:
            for kind, figures in phase["by_action"].items():
                if kind != HEARTBEAT and phase["phase"] == "mix":
                    print(
                        f"{'':<11}  mix, {kind}: p50 {figures['p50_us'] / 1000:.1f} ms, "
                        f"p99 {figures['p99_us'] / 1000:.1f} ms"
                    )
        if run["server_errors"]:
            print(f"   server ERROR lines: {run['server_errors'][-3:]}")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=100_000, help="id tags in the store")
    parser.add_argument("--unknown", type=int, default=1_000, help="distinct unknown cards")
    parser.add_argument("--chargers", type=int, default=50, help="closed-loop chargers")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per phase")
    parser.add_argument(
        "--database-url",
        help="run on PostgreSQL instead of SQLite: postgresql://USER@HOST:PORT/SCRATCH_DB "
        "(created before, dropped after; must not exist)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    raise_open_files_limit()
    results: dict[str, Any] = {
        "settings": {
            key: value
            for key, value in vars(arguments).items()
            if key not in ("json", "database_url")
        },
        "environment": environment(),
    }
    if arguments.database_url:
        try:
            with scratch_postgres_database(arguments.database_url) as url:
                run = measure(url, "postgresql", arguments)
        except ServerUnavailableError as error:
            print(f"postgresql: not available ({error})")
            return 1
    else:
        with tempfile.TemporaryDirectory(prefix="chargedeck-authorize-db-") as folder:
            run = measure(f"sqlite:///{folder}/authorize.db", "sqlite", arguments)
    results["run"] = run
    print_report([run])
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    for path in [RESULTS_FILE, *([arguments.json] if arguments.json else [])]:
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {RESULTS_FILE}")
    return 1 if any(phase["errors"] for phase in run["phases"]) else 0


if __name__ == "__main__":
    sys.exit(main())
