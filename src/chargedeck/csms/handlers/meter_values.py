"""MeterValues (OCPP 1.6 §4.7): stored as sent through the group-commit writer.

The answer is sent only after the batch holding these rows is committed (DESIGN §6), so an
acknowledged reading survives a crash.
"""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.meter_rows import meter_value_rows
from chargedeck.ocpp.v16.core import MeterValuesRequest, MeterValuesResponse

_RESPONSE = MeterValuesResponse()


async def handle_meter_values(
    services: CsmsServices, state: ConnectionState, request: MeterValuesRequest
) -> MeterValuesResponse:
    rows = meter_value_rows(
        state.charge_point_id,
        request.connector_id,
        request.transaction_id,
        request.meter_value,
        services.clock.now(),
    )
    await services.store.writer.write_meter_values(rows)
    services.load_control.on_meter_values(
        state.charge_point_id, request.connector_id, request.meter_value
    )
    return _RESPONSE
