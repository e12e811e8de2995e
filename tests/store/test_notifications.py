"""DataTransfer records."""

from __future__ import annotations

from datetime import datetime

import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.store import Store
from chargedeck.store.errors import ConstraintViolation
from chargedeck.store.records import DataTransferDirection, DataTransferRow

CP = ChargePointId("CP-001")


def transfer(now: datetime, direction: DataTransferDirection) -> DataTransferRow:
    return DataTransferRow(
        charge_point_id=CP,
        direction=direction,
        vendor_id="com.wallbox",
        message_id="GetLog",
        data='{"x":1}',
        status="Accepted",
        received_at=now,
    )


async def test_data_transfers_are_recorded_in_both_directions(store: Store, now: datetime) -> None:
    await store.charge_points.add_charge_point(CP, Registration.REGISTERED, now)
    await store.notifications.record_data_transfer(
        transfer(now, DataTransferDirection.FROM_CHARGE_POINT)
    )
    await store.notifications.record_data_transfer(
        transfer(now, DataTransferDirection.TO_CHARGE_POINT)
    )
    stored = await store.notifications.list_data_transfers(CP)
    assert [(t.direction, t.vendor_id, t.data) for t in stored] == [
        (DataTransferDirection.TO_CHARGE_POINT, "com.wallbox", '{"x":1}'),
        (DataTransferDirection.FROM_CHARGE_POINT, "com.wallbox", '{"x":1}'),
    ]


async def test_data_transfer_of_an_unknown_charger_raises_constraint_violation(
    store: Store, now: datetime
) -> None:
    with pytest.raises(ConstraintViolation):
        await store.notifications.record_data_transfer(
            transfer(now, DataTransferDirection.FROM_CHARGE_POINT)
        )
