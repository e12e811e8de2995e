"""StopTransaction (OCPP 1.6 §4.10): close the session, keep transactionData, always accept.

Committed before the answer (DESIGN §6). A stop for an unknown or already stopped transaction
is answered normally and recorded for reconciliation: a CALLERROR would make the charger retry
forever (OCPP-J 1.6 §4.2.3 reserves CALLERROR for malformed messages).
"""

from __future__ import annotations

import logging

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.events import TransactionStopped
from chargedeck.csms.id_tag_info import id_tag_info_for
from chargedeck.csms.meter_rows import meter_value_rows
from chargedeck.domain.ids import IdTag, TransactionId
from chargedeck.ocpp.v16.core import StopTransactionRequest, StopTransactionResponse
from chargedeck.store.records import StopOutcome, StopTransactionRecord

log = logging.getLogger(__name__)


async def handle_stop_transaction(
    services: CsmsServices, state: ConnectionState, request: StopTransactionRequest
) -> StopTransactionResponse:
    now = services.clock.now()
    id_tag_info = (
        None if request.id_tag is None else await id_tag_info_for(services, request.id_tag)
    )
    rows = meter_value_rows(
        state.charge_point_id,
        0,  # the store files the rows under the transaction's own connector when it knows it
        request.transaction_id,
        request.transaction_data or (),
        now,
    )
    outcome = await services.store.transactions.stop_transaction(
        StopTransactionRecord(
            charge_point_id=state.charge_point_id,
            transaction_id=TransactionId(request.transaction_id),
            id_tag=None if request.id_tag is None else IdTag(request.id_tag),
            meter_stop=request.meter_stop,
            stopped_at=request.timestamp,
            # OCPP 1.6 §6.49: an absent reason means Local.
            reason=request.reason.value if request.reason is not None else "Local",
        ),
        rows,
        now,
    )
    # OCPP 1.6 §3.13.1: the charger deletes a transaction's TxProfiles when it stops.
    await services.store.charging_profiles.end_transaction_profiles(
        state.charge_point_id, request.transaction_id, now
    )
    services.load_control.on_transaction_stopped(state.charge_point_id, request.transaction_id)
    services.events.publish(
        TransactionStopped(
            charge_point_id=state.charge_point_id,
            transaction_id=request.transaction_id,
            meter_stop_wh=request.meter_stop,
            reason=request.reason.value if request.reason is not None else "Local",
            stopped_at=request.timestamp,
            outcome=outcome.value,
        )
    )
    if outcome is not StopOutcome.STOPPED:
        log.warning(
            "charge point %s stopped transaction %s which is %s; accepted and recorded for "
            "reconciliation",
            state.charge_point_id,
            request.transaction_id,
            outcome.value.replace("_", " "),
        )
    return StopTransactionResponse(id_tag_info=id_tag_info)
