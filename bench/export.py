"""ChargeDeck export benchmark: 100,000 sessions exported as CSV and JSON, beside a raw dump.

Issue 5, "export time for 100,000 sessions", in one invocation:

1. A fresh store (SQLite in a temporary folder; PostgreSQL with ``--database-url``, a database
   created before and dropped after, refused if it exists) gets ``--sessions`` finished sessions
   through the store API in bulk (5 chargers, 50 id tags in 5 groups, a default tariff with a
   night window, ``--readings`` energy register readings per session in ``meter_values``).
2. ``chargedeck export sessions --format csv --out FILE`` and ``--format json``, run as an
   operator runs them (a process, the database from ``CHARGEDECK_DATABASE_URL``), timed from
   start to exit, with the process's peak RSS. Each output is checked: one row per session and
   the sum of kWh of the sessions written.
3. Baseline, beside it: the same sessions read with one plain SELECT by this process and written
   with the ``csv`` module (no energy checks, no pricing, no readings, no time zone): the floor of
   reading rows and writing CSV on this machine.

Prints a table (seconds, sessions/s, peak RSS, ratio to the baseline) and writes
bench/results/export-latest.json (and ``--json FILE``). Every step is bounded by ``--timeout``
seconds; one that runs over is reported as failed and the run exits 1.

    .venv/bin/python bench/export.py                       # 100,000 sessions on SQLite
    .venv/bin/python bench/export.py --sessions 10000      # quicker
    .venv/bin/python bench/export.py --database-url postgresql://postgres@127.0.0.1:5432/chargedeck_export_bench
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as wall_clock
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from run import ServerUnavailableError, environment, scratch_postgres_database

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "export-latest.json"

CHARGERS = 5
ID_TAGS = 50
GROUPS = 5
SESSION_MINUTES = 5
"""A session starts every 5 minutes: 100,000 sessions span about 347 days, across both
daylight-saving changes of Europe/Madrid."""
FIRST_START = datetime(2025, 1, 1, tzinfo=UTC)
WRITE_CHUNK = 10_000
"""Sessions (and readings) per bulk write through the store."""
TIME_ZONE = "Europe/Madrid"


def sessions_to_write(count: int) -> Iterator[tuple[int, datetime, int, int]]:
    """(n, started_at, meter_start, energy_wh) of each session, deterministic."""
    for n in range(count):
        started_at = FIRST_START + timedelta(minutes=SESSION_MINUTES * n)
        yield n, started_at, n * 100_000, 1_000 + (n * 7_919) % 60_000


async def write_store(database_url: str, sessions: int, readings: int) -> int:
    """Write the sessions and their readings; returns the sum of their energy in Wh."""
    from chargedeck.domain.charge_points import Registration
    from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
    from chargedeck.domain.tariffs import Tariff, TimeWindow
    from chargedeck.store import open_store
    from chargedeck.store.records import MeterValueRow
    from chargedeck.store.transactions import RecordedSession, SessionFilter

    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        chargers = [ChargePointId(f"EXPORT-{n}") for n in range(CHARGERS)]
        for charger in chargers:
            await store.charge_points.add_charge_point(charger, Registration.REGISTERED, now)
        for n in range(ID_TAGS):
            await store.id_tags.add_id_tag(
                IdTag(f"CARD-{n:03d}"), now=now, parent_id_tag=IdTag(f"FLEET-{n % GROUPS}")
            )
        night = TimeWindow(wall_clock(22), wall_clock(6), Decimal("0.12"))
        await store.tariffs.add_tariff(
            "home", Tariff("EUR", Decimal("0.30"), TIME_ZONE, (night,)), is_default=True, now=now
        )
        total_wh = 0
        batch: list[RecordedSession] = []
        for n, started_at, meter_start, energy_wh in sessions_to_write(sessions):
            total_wh += energy_wh
            batch.append(
                RecordedSession(
                    charge_point_id=chargers[n % CHARGERS],
                    connector_id=ConnectorId(1),
                    id_tag=IdTag(f"CARD-{n % ID_TAGS:03d}"),
                    meter_start=meter_start,
                    started_at=started_at,
                    meter_stop=meter_start + energy_wh,
                    stopped_at=started_at + timedelta(minutes=SESSION_MINUTES - 1),
                    stop_reason="EVDisconnected",
                    owner=f"owner-{n % 7}",
                )
            )
            if len(batch) == WRITE_CHUNK:
                await store.transactions.import_sessions(batch, now)
                batch = []
        await store.transactions.import_sessions(batch, now)
        if readings:
            step = timedelta(minutes=SESSION_MINUTES - 1) / (readings + 1)
            async for page in store.transactions.iter_sessions(SessionFilter(), WRITE_CHUNK):
                rows = [
                    MeterValueRow(
                        charge_point_id=session.charge_point_id,
                        connector_id=ConnectorId(1),
                        transaction_id=TransactionId(session.id),
                        timestamp=session.started_at + step * k,
                        sampled_values="[]",
                        received_at=now,
                        energy_wh=session.meter_start
                        + ((session.meter_stop or session.meter_start) - session.meter_start)
                        * k
                        // (readings + 1),
                    )
                    for session in page
                    for k in range(1, readings + 1)
                ]
                await store.writer.write_meter_values(rows)
        return total_wh
    finally:
        await store.close()


@contextmanager
def step(results: dict[str, Any], name: str, count: int) -> Iterator[dict[str, Any]]:
    """Time a step; its figures go to ``results[name]``."""
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        yield figures
    finally:
        seconds = time.perf_counter() - started
        figures.update(seconds=round(seconds, 3), sessions_per_s=round(count / seconds))
        results[name] = figures


def run_export(
    database_url: str, output_format: str, out: Path, timeout_s: float
) -> tuple[float, float]:
    """``chargedeck export sessions --format F --out FILE`` as a process: (seconds, its peak RSS
    in MB). The peak is the process's VmHWM, read every 10 ms while it runs: ``ru_maxrss``
    would count the pages it shared with this (large) process between fork and exec."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEDECK_")}
    env["CHARGEDECK_DATABASE_URL"] = database_url
    env["CHARGEDECK_TIME_ZONE"] = TIME_ZONE
    argv = [sys.executable, "-m", "chargedeck", "export", "sessions"]
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*argv, "--format", output_format, "--out", str(out)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _high_water_mark_kb(process.pid))
            pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout_s:
                process.kill()
                process.wait()
                raise RuntimeError(f"export --format {output_format} ran over {timeout_s} s")
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(
                f"export --format {output_format} failed: {stderr.read().decode().strip()}"
            )
    return seconds, peak_kb / 1024


def _high_water_mark_kb(pid: int) -> int:
    """VmHWM of a running process (Linux /proc), 0 when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def check_output(out: Path, output_format: str, sessions: int, total_wh: int) -> None:
    """One row per session, and their kWh add up to what was written."""
    if output_format == "csv":
        with out.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    else:
        rows = json.loads(out.read_text(encoding="utf-8"))
    energy = sum(Decimal(row["energy_kwh"]) for row in rows)
    if len(rows) != sessions or energy != Decimal(total_wh) / 1000:
        raise RuntimeError(
            f"{output_format}: {len(rows)} rows and {energy} kWh; expected {sessions} rows and "
            f"{Decimal(total_wh) / 1000} kWh"
        )


async def baseline_dump(database_url: str, out: Path) -> int:
    """The floor: every transaction row with one SELECT, written with the csv module."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from chargedeck.store.engine import async_url

    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as connection:
            result = await connection.stream(
                sa.text(
                    "SELECT id, charge_point_id, connector_id, id_tag, owner, meter_start, "
                    "meter_stop, started_at, stopped_at, stop_reason FROM transactions ORDER BY id"
                )
            )
            rows = 0
            with out.open("w", newline="", encoding="utf-8") as file:
                writer = csv.writer(file, lineterminator="\r\n")
                async for partition in result.partitions(1000):
                    writer.writerows(partition)
                    rows += len(partition)
        return rows
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--readings", type=int, default=3, help="register readings per session")
    parser.add_argument("--database-url", help="postgresql://.../NEW_DATABASE (default: SQLite)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per step")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="chargedeck-export-") as folder:
        scratch = Path(folder)
        try:
            with (
                scratch_postgres_database(args.database_url)
                if args.database_url
                else _nothing(f"sqlite:///{scratch / 'export.db'}")
            ) as database_url:
                failed = run_steps(args, database_url, scratch, results)
        except ServerUnavailableError as error:
            print(f"database not available: {error}", file=sys.stderr)
            return 1
    report(args, results)
    return 1 if failed else 0


@contextmanager
def _nothing(value: str) -> Iterator[str]:
    yield value


def run_steps(
    args: argparse.Namespace, database_url: str, scratch: Path, results: dict[str, Any]
) -> bool:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(
        f"writing {args.sessions} sessions with {args.readings} readings each ({backend})...",
        flush=True,
    )
    with step(results, "write", args.sessions):
        total_wh = asyncio.run(
            asyncio.wait_for(write_store(database_url, args.sessions, args.readings), args.timeout)
        )
    failed = False
    for output_format in ("csv", "json"):
        out = scratch / f"sessions.{output_format}"
        try:
            seconds, peak_mb = run_export(database_url, output_format, out, args.timeout)
            check_output(out, output_format, args.sessions, total_wh)
        except RuntimeError as error:
            print(f"export {output_format}: FAILED: {error}", file=sys.stderr)
            results[f"export_{output_format}"] = {"failed": str(error)}
            failed = True
            continue
        results[f"export_{output_format}"] = {
            "seconds": round(seconds, 3),
            "sessions_per_s": round(args.sessions / seconds),
            "peak_rss_mb": round(peak_mb, 1),
            "bytes": out.stat().st_size,
        }
    with step(results, "baseline_csv", args.sessions) as figures:
        figures["rows"] = asyncio.run(
            asyncio.wait_for(baseline_dump(database_url, scratch / "baseline.csv"), args.timeout)
        )
    results["backend"] = backend
    return failed


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    baseline = results.get("baseline_csv", {}).get("seconds")
    print()
    print(f"{'step':<14}{'seconds':>10}{'sessions/s':>12}{'peak MB':>10}{'x baseline':>12}")
    for name in ("write", "export_csv", "export_json", "baseline_csv"):
        figures = results.get(name, {})
        if "seconds" not in figures:
            print(f"{name:<14}{'failed':>10}")
            continue
        ratio = f"{figures['seconds'] / baseline:.1f}" if baseline and name != "write" else ""
        peak = figures.get("peak_rss_mb", "")
        print(
            f"{name:<14}{figures['seconds']:>10.2f}{figures['sessions_per_s']:>12}"
            f"{peak!s:>10}{ratio:>12}"
        )
    document = {
        "settings": {
            "sessions": args.sessions,
            "readings_per_session": args.readings,
            "backend": results.get("backend"),
            "time_zone": TIME_ZONE,
        },
        "environment": environment(),
        "results": results,
    }
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    for path in (RESULTS_FILE, args.json):
        if path is not None:
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {RESULTS_FILE}")


if __name__ == "__main__":
    sys.exit(main())
