"""Exports of 10,000 sessions add up to the sessions, through the CLI and the API.

The sessions are written in bulk through the store (not over OCPP) into the database of a
running ``chargedeck serve``; ``chargedeck export sessions`` reads the same database, the API
serves CSV (streamed) and JSON (pages). Sums are computed here from the sessions as written,
with Decimal arithmetic, independently of ChargeDeck's code.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.domain.tariffs import Tariff, TimeWindow
from chargedeck.store import open_store
from chargedeck.store.records import (
    MeterValueRow,
    StartTransactionRecord,
    StopTransactionRecord,
)
from chargedeck.store.transactions import RecordedSession
from tests.support.server import ServerProcess, running_server

SESSIONS = 10_000
CHARGERS = [ChargePointId(f"BULK-{n}") for n in range(5)]
PRICE = Decimal("0.2875")  # EUR/kWh: many sessions cost an exact half cent before rounding
FIRST_START = datetime(2026, 1, 1, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")
DST = ChargePointId("DST-1")
CLI_TIMEOUT_S = 120.0
OFFSET = re.compile(r"[+-]\d\d:\d\d$")


@dataclass(frozen=True)
class Written:
    """What the test wrote, and the sums it expects."""

    server: ServerProcess
    energy_wh: int
    cost: Decimal


def bulk_sessions() -> list[RecordedSession]:
    sessions = []
    for n in range(SESSIONS):
        started_at = FIRST_START + timedelta(minutes=25 * n)  # 2026-01-01 .. 2026-06-23
        energy_wh = 500 + (n * 7919) % 40_000
        sessions.append(
            RecordedSession(
                charge_point_id=CHARGERS[n % len(CHARGERS)],
                connector_id=ConnectorId(1),
                id_tag=IdTag(f"CARD-{n % 20:02d}"),
                meter_start=n * 50_000,
                started_at=started_at,
                meter_stop=n * 50_000 + energy_wh,
                stopped_at=started_at + timedelta(minutes=20 + n % 40),
                stop_reason="EVDisconnected",
            )
        )
    return sessions


def expected_cost(energy_wh: int) -> Decimal:
    """Priced once per session, rounded half to even to the cent."""
    return (Decimal(energy_wh) * PRICE / 1000).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


async def write_sessions(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        for charger in [*CHARGERS, DST]:
            await store.charge_points.add_charge_point(charger, Registration.REGISTERED, now)
        await store.tariffs.add_tariff(
            "flat", Tariff("EUR", PRICE, "Europe/Madrid"), is_default=True, now=now
        )
        night = await store.tariffs.add_tariff(
            "night",
            Tariff(
                "EUR",
                Decimal("0.30"),
                "Europe/Madrid",
                (TimeWindow(time(2), time(3), Decimal("0.10")),),
            ),
            is_default=False,
            now=now,
        )
        await store.tariffs.assign_tariff(DST, night.id)
        await store.transactions.import_sessions(bulk_sessions(), now)
        await write_dst_session(store, now)
    finally:
        await store.close()


async def write_dst_session(store: Any, now: datetime) -> None:
    """2026-10-25 01:30+02:00 to 03:30+01:00 in Madrid (three hours: the clocks go back at
    03:00), 2 kWh an hour, read every 30 minutes. The window 02:00-03:00 comes twice that night:
    2 kWh at 0.30 + 4 kWh at 0.10 = 1.00 EUR."""
    started_at = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    transaction_id, _ = await store.transactions.start_transaction(
        StartTransactionRecord(
            charge_point_id=DST,
            connector_id=ConnectorId(1),
            id_tag=IdTag("NIGHT-CARD"),
            meter_start=100_000,
            started_at=started_at,
            start_id_tag_status="Accepted",
        ),
        now,
    )
    samples = [
        MeterValueRow(
            charge_point_id=DST,
            connector_id=ConnectorId(1),
            transaction_id=TransactionId(transaction_id),
            timestamp=started_at + timedelta(minutes=30 * k),
            sampled_values="[]",
            received_at=now,
            energy_wh=100_000 + 1000 * k,
        )
        for k in range(1, 6)
    ]
    await store.transactions.stop_transaction(
        StopTransactionRecord(
            charge_point_id=DST,
            transaction_id=TransactionId(transaction_id),
            meter_stop=106_000,
            stopped_at=started_at + timedelta(hours=3),
            reason="Local",
        ),
        samples,
        now,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    folder = tmp_path_factory.mktemp("exports")
    database_url = f"sqlite:///{folder / 'chargedeck.db'}"
    with running_server(database_url, cwd=folder) as server:
        asyncio.run(write_sessions(database_url))
        sessions = bulk_sessions()
        energies = [s.meter_stop - s.meter_start for s in sessions if s.meter_stop is not None]
        yield Written(server, sum(energies), sum(map(expected_cost, energies), Decimal(0)))
        assert server.error_lines() == [], server.log_text()


def export(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``chargedeck export sessions ARGS``; stdout decoded as written (CRLF kept)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEDECK_")}
    env["CHARGEDECK_DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "-m", "chargedeck", "export", "sessions", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


FIRST_HALF = ("--from", "2026-01-01", "--to", "2026-07-01", "--tz", "Europe/Madrid")
FIRST_HALF_QUERY = "from=2026-01-01&to=2026-07-01&tz=Europe/Madrid"


def assert_rows_add_up(rows: list[dict[str, Any]], written: Written) -> None:
    """As many rows as sessions; their kWh and cost add up to the sessions'; every time on
    Madrid's clock with the offset in force then."""
    assert len(rows) == SESSIONS
    assert sum(Decimal(row["energy_kwh"]) for row in rows) == Decimal(written.energy_wh) / 1000
    assert sum(Decimal(row["cost"]) for row in rows) == written.cost
    assert {row["currency"] for row in rows} == {"EUR"}
    for row in rows:
        started_at = datetime.fromisoformat(row["started_at"])
        assert OFFSET.search(row["started_at"])
        assert started_at.utcoffset() == started_at.astimezone(MADRID).utcoffset()


def csv_rows(text: str) -> list[dict[str, str]]:
    assert text.endswith("\r\n")  # RFC 4180 line ends
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_cli_csv_export_adds_up_to_its_sessions(written: Written) -> None:
    result = export(written.server.database_url, *FIRST_HALF, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = csv_rows(result.stdout)
    assert_rows_add_up(rows, written)
    assert rows[0]["started_at"] == "2026-01-01T01:00:00+01:00"
    assert "exported 10000 session(s) as csv" in result.stderr


def test_the_cli_json_export_adds_up_to_its_sessions(written: Written) -> None:
    result = export(written.server.database_url, *FIRST_HALF, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert_rows_add_up(json.loads(result.stdout), written)


def test_the_api_csv_export_adds_up_to_its_sessions(written: Written) -> None:
    with written.server.api_client() as client:
        answer = client.get(f"/reports/sessions?format=csv&{FIRST_HALF_QUERY}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert_rows_add_up(csv_rows(answer.text), written)


def test_the_api_json_pages_add_up_to_their_sessions(written: Written) -> None:
    rows: list[dict[str, Any]] = []
    with written.server.api_client() as client:
        cursor = ""
        while True:
            page = client.get(f"/reports/sessions?limit=500&{FIRST_HALF_QUERY}{cursor}").json()
            rows.extend(page["items"])
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
    assert_rows_add_up(rows, written)


def test_the_summary_per_charger_adds_up_to_the_sessions(written: Written) -> None:
    with written.server.api_client() as client:
        summary = client.get(f"/reports/summary?group_by=charge_point&{FIRST_HALF_QUERY}").json()
    assert [row["key"] for row in summary["rows"]] == CHARGERS
    assert sum(row["sessions"] for row in summary["rows"]) == SESSIONS
    assert sum(row["energy_wh"] for row in summary["rows"]) == written.energy_wh
    assert sum(Decimal(row["cost"]) for row in summary["rows"]) == written.cost


def test_the_summary_per_month_is_cut_on_the_operators_calendar(written: Written) -> None:
    with written.server.api_client() as client:
        answer = client.get(f"/reports/summary?group_by=month&format=csv&{FIRST_HALF_QUERY}")
    rows = csv_rows(answer.text)
    assert [row["month"] for row in rows] == [f"2026-0{m}" for m in range(1, 7)]
    assert sum(int(row["sessions"]) for row in rows) == SESSIONS
    assert sum(Decimal(row["cost"]) for row in rows) == written.cost


def test_a_session_across_the_autumn_clock_change_shows_both_offsets(written: Written) -> None:
    result = export(
        written.server.database_url,
        "--charge-point",
        DST,
        "--tz",
        "Europe/Madrid",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    [session] = json.loads(result.stdout)
    assert (session["started_at"], session["stopped_at"]) == (
        "2026-10-25T01:30:00+02:00",
        "2026-10-25T03:30:00+01:00",
    )
    assert (session["duration_s"], session["energy_wh"]) == (3 * 3600, 6000)
    # 02:00-03:00 at 0.10 twice that night (4 kWh), the rest at 0.30 (2 kWh).
    assert (session["cost"], session["currency"], session["tariff"]) == ("1.00", "EUR", "night")
    assert session["energy_flags"] == []


def test_report_queries_with_mistakes_are_refused_with_a_sentence(written: Written) -> None:
    with httpx.Client(
        base_url=written.server.api_url, headers=written.server.auth_headers, timeout=30
    ) as client:
        for query, detail in [
            ("tz=Mars/Olympus", "time zone 'Mars/Olympus' is not in the IANA time zone database"),
            ("from=yesterday", "from='yesterday': expected a date (2026-03-01)"),
            ("from=2026-02-01&to=2026-01-01", "is not after from='2026-02-01'"),
            ("tag=CARD-01", "unknown query parameter 'tag'"),
            ("format=xlsx", "format='xlsx': expected one of json, csv"),
        ]:
            answer = client.get(f"/reports/sessions?{query}")
            assert answer.status_code == 400, query
            assert detail in answer.json()["detail"], query
        answer = client.get("/reports/summary")
        assert answer.status_code == 400
        assert "group_by is required" in answer.json()["detail"]
