"""A crash right after a reply loses nothing the reply acknowledged (DESIGN §6).

A child process stores a StartTransaction and MeterValues through the store, prints "acked"
once the awaits returned (where the OCPP reply would be sent) and is killed with SIGKILL at
once: no flush, no close. The rows must be in the database when it is opened again.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import chargedeck
from chargedeck.domain.ids import ChargePointId, TransactionId
from chargedeck.store import open_store

CHILD = """
import asyncio, sys
from datetime import UTC, datetime
from chargedeck.domain.charge_points import Registration
from chargedeck.store import open_store
from chargedeck.store.records import MeterValueRow, StartTransactionRecord

async def main() -> None:
    store = await open_store(sys.argv[1])
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    await store.charge_points.add_charge_point("CP-crash", Registration.REGISTERED, now)
    transaction_id, _ = await store.transactions.start_transaction(
        StartTransactionRecord(charge_point_id="CP-crash", connector_id=1, id_tag="T",
                               meter_start=0, started_at=now, start_id_tag_status="Accepted"),
        now,
    )
    rows = [MeterValueRow(charge_point_id="CP-crash", connector_id=1,
                          transaction_id=transaction_id, timestamp=now, sampled_values="[]",
                          energy_wh=n, received_at=now) for n in range(3)]
    await asyncio.gather(store.writer.write_meter_values(rows[:1]),
                         store.writer.write_meter_values(rows[1:]))
    print("acked", transaction_id, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""

# The child imports chargedeck from the same source tree as the tests.
SOURCE_DIR = str(Path(chargedeck.__file__).resolve().parent.parent)

# Generous: the child imports SQLAlchemy and migrates the database first.
CHILD_ACK_TIMEOUT_S = 60


async def test_rows_acknowledged_before_a_crash_are_in_the_store(database_url: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE_DIR, os.environ.get("PYTHONPATH")])),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, database_url, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_ACK_TIMEOUT_S)
    finally:
        child.kill()
        await child.wait()
    word, transaction_id = line.decode().split()
    assert word == "acked"
    store = await open_store(database_url)
    try:
        transaction = await store.transactions.get_transaction(TransactionId(int(transaction_id)))
        values = await store.transactions.meter_values_for_transaction(
            TransactionId(int(transaction_id))
        )
    finally:
        await store.close()
    assert transaction is not None
    assert transaction.charge_point_id == ChargePointId("CP-crash")
    assert transaction.started_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert sorted(value.energy_wh or 0 for value in values) == [0, 1, 2]
