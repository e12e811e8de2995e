"""Turn OCPP MeterValue elements into store rows: one row per element, samples as sent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from chargedeck.domain.ids import ChargePointId, ConnectorId, TransactionId
from chargedeck.domain.meter_values import energy_import_register_wh
from chargedeck.ocpp.v16.enums import Measurand
from chargedeck.ocpp.v16.types import MeterValue, TransactionMeterValue
from chargedeck.store.records import MeterValueRow

_encode = msgspec.json.Encoder().encode
_ENERGY_REGISTER = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER


def meter_value_rows(
    charge_point_id: ChargePointId,
    connector_id: int,
    transaction_id: int | None,
    meter_values: Iterable[MeterValue | TransactionMeterValue],
    received_at: datetime,
) -> list[MeterValueRow]:
    """One row per MeterValue: its sampled values re-encoded exactly as received (camelCase,
    optional fields absent when absent), plus the energy register in Wh when present."""
    rows = []
    for meter_value in meter_values:
        energy_wh = None
        for sample in meter_value.sampled_value:
            # Hot path (11 samples per message): skip the other measurands before the call.
            # The enums are StrEnums, so they pass as the spec's strings without .value.
            if sample.phase is None and (
                sample.measurand is None or sample.measurand is _ENERGY_REGISTER
            ):
                found = energy_import_register_wh(sample.measurand, sample.unit, None, sample.value)
                if found is not None:
                    energy_wh = found
        rows.append(
            MeterValueRow(
                charge_point_id=charge_point_id,
                connector_id=ConnectorId(connector_id),
                transaction_id=None if transaction_id is None else TransactionId(transaction_id),
                timestamp=meter_value.timestamp,
                sampled_values=_encode(meter_value.sampled_value).decode(),
                energy_wh=energy_wh,
                received_at=received_at,
            )
        )
    return rows
