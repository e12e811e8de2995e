"""Handshake lookups of a charger's registration: answered right, and coalesced per loop turn."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.store import Store
from chargedeck.store.errors import StoreUnavailable


async def test_each_lookup_gets_its_own_chargers_registration(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(ChargePointId("A"), Registration.REGISTERED, now)
    await store.charge_points.add_charge_point(ChargePointId("B"), Registration.PENDING, now)
    found = await asyncio.gather(
        *(store.registrations.access_of(ChargePointId(i)) for i in ("A", "B", "C", "A"))
    )
    registrations = [None if access is None else access.registration for access in found]
    assert registrations == [
        Registration.REGISTERED,
        Registration.PENDING,
        None,
        Registration.REGISTERED,
    ]


async def test_lookups_made_together_share_one_query(store: Store, now: datetime) -> None:
    for index in range(50):
        await store.charge_points.add_charge_point(
            ChargePointId(f"CP{index}"), Registration.REGISTERED, now
        )
    queries: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM charge_points" in statement:
            queries.append(statement)

    # Every engine of the store (reads may take the one-statement query path).
    event.listen(sa.Engine, "before_cursor_execute", count)
    try:
        found = await asyncio.gather(
            *(store.registrations.access_of(ChargePointId(f"CP{i}")) for i in range(50))
        )
    finally:
        event.remove(sa.Engine, "before_cursor_execute", count)
    assert [access and access.registration for access in found] == [Registration.REGISTERED] * 50
    assert len(queries) == 1


async def test_a_failed_lookup_raises_store_unavailable_to_every_waiter(
    store: Store, now: datetime
) -> None:
    def refuse(*_args: Any) -> None:
        raise OSError("refused by the test")

    engine = store.database.query_engine
    await store.database.reader.dispose()
    engine.dispose()
    event.listen(engine, "do_connect", refuse)
    try:
        results = await asyncio.gather(
            store.registrations.access_of(ChargePointId("X")),
            store.registrations.access_of(ChargePointId("Y")),
            return_exceptions=True,
        )
    finally:
        event.remove(engine, "do_connect", refuse)
    assert [type(result) for result in results] == [StoreUnavailable, StoreUnavailable]
