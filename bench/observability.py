"""Cost of the metrics and message-log hooks on the OCPP path, in µs per message (issue 10).

In one process, no sockets: 50 ``ChargePointConnection`` (server/ocpp_ws.py) over links that
drop what they are sent, on a real SQLite store, fed N frames per variant; the figure is CPU
time of the process (all threads: the batch writer commits in its own) per message:

* ``bare``: no metrics, no message log (the path before issue 10);
* ``metrics``: Prometheus hooks (counters by action/result, latency histogram) and the
  metrics' event-bus subscription (which makes ``events.has_listeners`` true);
* ``log``: the message log writer's ``record`` for the frame in and the answer out, and its
  flush (classification and the executemany) counted in;
* ``both``: metrics and message log, as ``chargedeck serve`` runs.

Variants alternate over ``--rounds`` rounds; the best round of each is reported (the machine is
shared and noisy), with the difference to ``bare``. Heartbeat is the cheapest handler (no store
write), so its difference is the hooks' cost; MeterValues adds a group commit per batch and,
with metrics, the MeterValuesReceived event the metrics' subscription makes the handler build.

    .venv/bin/python bench/observability.py [--messages 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from chargedeck.clock import SystemClock
from chargedeck.config import Settings
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.message_log import MessageLogWriter
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.server.metrics import Metrics
from chargedeck.server.ocpp_ws import ChargePointConnection
from chargedeck.store import Store, open_store

# Concurrent connections: MeterValues answers wait for their group commit, so one connection
# would measure the commit latency; 50 share commits as a busy server's chargers do.
CONNECTIONS = 50
HEARTBEAT = '[2,"{n}","Heartbeat",{{}}]'
METER_VALUES = (
    '[2,"{n}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":'
    '"2026-03-02T08:00:00Z","sampledValue":[{{"value":"{n}","measurand":'
    '"Energy.Active.Import.Register","unit":"Wh"}},{{"value":"7400","measurand":'
    '"Power.Active.Import","unit":"W"}}]}}]}}]'
)


class DroppingLink:
    """A WebSocketLink that is always open and sends nowhere."""

    is_open = True

    async def send_text(self, frame: bytes) -> None:
        return None

    async def close(self, code: int, reason: str) -> None:
        return None


async def run_variant(
    store: Store, template: str, messages: int, *, metrics: bool, log: bool
) -> float:
    """CPU µs (this process, all threads) per message of ``messages`` frames spread over
    ``CONNECTIONS`` connections."""
    settings = Settings()
    services = CsmsServices(
        store=store, settings=settings, clock=SystemClock(), stations=Stations()
    )
    observer = Metrics() if metrics else None
    if observer is not None:
        observer.start(services.events)
    writer = MessageLogWriter(store.message_log, settings, services.clock) if log else None
    if writer is not None:
        writer.start()
    state = ConnectionState(
        charge_point_id=ChargePointId("BENCH-1"),
        remote_address="127.0.0.1:1",
        connected_at=datetime.now(UTC),
        registration=Registration.REGISTERED,
        boot_status="Accepted",
    )
    connections = [
        ChargePointConnection(
            DroppingLink(),  # type: ignore[arg-type]
            state,
            services,
            lambda _: None,
            metrics=observer,
            message_log=writer,
        )
        for _ in range(CONNECTIONS)
    ]
    per_connection = messages // CONNECTIONS
    frames = [template.format(n=n) for n in range(per_connection)]

    async def feed(connection: ChargePointConnection) -> None:
        for frame in frames:
            await connection.receive_text(frame)

    started = time.process_time()
    await asyncio.gather(*(feed(connection) for connection in connections))
    if writer is not None:
        await writer.flush()  # its rows are part of the cost
    elapsed = time.process_time() - started
    messages = per_connection * CONNECTIONS
    if writer is not None:
        await writer.close()
    if observer is not None:
        await observer.close()
    return elapsed / messages * 1e6


async def main(messages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        await store.charge_points.add_charge_point(
            ChargePointId("BENCH-1"), Registration.REGISTERED, datetime.now(UTC)
        )
        try:
            for name, template, count in (
                ("Heartbeat", HEARTBEAT, messages),
                ("MeterValues", METER_VALUES, messages // 4),
            ):
                best: dict[str, float] = {}
                for _ in range(rounds):
                    for variant, metrics, log in (
                        ("bare", False, False),
                        ("metrics", True, False),
                        ("log", False, True),
                        ("both", True, True),
                    ):
                        cost = await run_variant(store, template, count, metrics=metrics, log=log)
                        best[variant] = min(best.get(variant, cost), cost)
                base = best["bare"]
                print(f"{name} ({count} messages x {rounds} rounds, best round):")
                for variant, cost in best.items():
                    print(f"  {variant:8s} {cost:7.1f} µs/msg  ({cost - base:+5.1f} µs vs bare)")
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(arguments.messages, arguments.rounds))
