"""The webhook worker listens only to the event types the enabled webhooks take: with no webhook
the bus does not want MeterValues events (the handler then builds none), a webhook for
meter.values makes it want them, and a webhook created through a change on this node gets every
event published after its creation. Against a real SQLite store, no HTTP receiver needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.clock import SystemClock
from chargedeck.config import Settings
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.events import MeterValuesReceived
from chargedeck.csms.stations import Stations
from chargedeck.csms.webhooks import WebhookWorker, changing_webhooks
from chargedeck.store import open_store
from chargedeck.store.webhooks import WebhookRecord

METER = "meter.values"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[CsmsServices]:
    store = await open_store(f"sqlite:///{tmp_path / 'chargedeck.db'}")
    try:
        yield CsmsServices(
            store=store, settings=Settings(), clock=SystemClock(), stations=Stations()
        )
    finally:
        await store.close()


@pytest.fixture
async def worker(services: CsmsServices) -> AsyncIterator[WebhookWorker]:
    running = WebhookWorker(services)
    running.start()
    try:
        yield running
    finally:
        services.events.close()
        await running.stop()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 5.0
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


async def add_webhook(services: CsmsServices, name: str, event_types: str) -> WebhookRecord:
    async with changing_webhooks(services):
        return await services.store.webhooks.add_webhook(
            name=name,
            url="http://127.0.0.1:9/hook",
            secret="whsec_test",
            event_types=event_types,
            charge_point_id=None,
            enabled=True,
            now=services.clock.now(),
        )


def meter_event() -> MeterValuesReceived:
    return MeterValuesReceived(
        charge_point_id="CP1",
        connector_id=1,
        transaction_id=None,
        sampled_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        power_w=7000.0,
    )


async def test_with_no_webhook_a_running_worker_does_not_want_meter_values(
    services: CsmsServices, worker: WebhookWorker
) -> None:
    await eventually(lambda: not services.events.wants(METER), "the worker still wants all")
    await asyncio.sleep(0.05)  # and it stays so
    assert not services.events.wants(METER)


async def test_a_webhook_for_meter_values_makes_the_bus_want_them_and_gets_them(
    services: CsmsServices, worker: WebhookWorker
) -> None:
    await eventually(lambda: not services.events.wants(METER), "the worker still wants all")

    hook = await add_webhook(services, "meters", METER)
    # Published right after the change returned: it must reach the new webhook.
    assert services.events.wants(METER)
    services.events.publish(meter_event())

    async def delivered() -> int:
        return len(await services.store.webhooks.list_deliveries(hook.id, limit=10))

    deadline = asyncio.get_running_loop().time() + 5.0
    while await delivered() == 0:
        assert asyncio.get_running_loop().time() < deadline, "the event was not stored for it"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # after the re-read, still wanted
    assert services.events.wants(METER)


async def test_a_webhook_for_other_types_does_not_make_meter_values_wanted(
    services: CsmsServices, worker: WebhookWorker
) -> None:
    await add_webhook(services, "status", "connector.status,charger.booted")

    await eventually(lambda: not services.events.wants(METER), "meter.values still wanted")
    assert services.events.wants("connector.status")
