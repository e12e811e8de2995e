"""MeterValues (OCPP 1.6 §4.7): stored as sent through the group-commit writer.

The answer is sent only after the batch holding these rows is committed (DESIGN §6), so an
acknowledged reading survives a crash.
"""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.events import MeterValuesReceived
from chargedeck.csms.meter_rows import meter_value_rows
from chargedeck.domain.meter_values import current_offered_a, meter_summary
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
    if request.meter_value and services.events.wants("meter.values"):
        newest = request.meter_value[-1]
        samples: list[tuple[str | None, str | None, str | None, str]] = [
            (s.measurand, s.unit, s.phase, s.value) for s in newest.sampled_value
        ]
        power_w, energy_wh, current_a, soc = meter_summary(samples)
        services.events.publish(
            MeterValuesReceived(
                charge_point_id=state.charge_point_id,
                connector_id=request.connector_id,
                transaction_id=request.transaction_id,
                sampled_at=newest.timestamp,
                power_w=power_w,
                energy_wh=energy_wh,
                current_a=current_a,
                soc_percent=soc,
                current_offered_a=current_offered_a(samples),
            )
        )
    return _RESPONSE
