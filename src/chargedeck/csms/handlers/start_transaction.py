"""StartTransaction (OCPP 1.6 §4.8): record the session and answer its transactionId.

The transaction is committed before the answer (DESIGN §6) and the insert is idempotent: a
charger repeating the same start (same connector, idTag, meterStart and timestamp) after a lost
answer gets the same transactionId. A start with an id tag we refuse is still recorded: the
charger may have started offline, and a transactionId must be answered regardless (§4.8).

The idTag is decided as Authorize decides it (csms/id_tag_info.py), plus ConcurrentTx for a tag
at its cap; the session is attributed to the tag's owner, or to the charger's default owner when
it started without a card (placeholder idTag, free vend).
"""

from __future__ import annotations

from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.events import TransactionStarted
from chargedeck.csms.id_tag_info import authorize_presented
from chargedeck.csms.reservations import on_start_transaction
from chargedeck.domain.ids import ConnectorId, IdTag
from chargedeck.ocpp.v16.core import StartTransactionRequest, StartTransactionResponse
from chargedeck.ocpp.v16.enums import AuthorizationStatus
from chargedeck.store.records import StartTransactionRecord


async def handle_start_transaction(
    services: CsmsServices, state: ConnectionState, request: StartTransactionRequest
) -> StartTransactionResponse:
    connector_id = ConnectorId(request.connector_id)
    authorization = await authorize_presented(
        services, state, request.id_tag, starting_on=connector_id
    )
    id_tag_info = authorization.id_tag_info
    transaction_id, _created = await services.store.transactions.start_transaction(
        StartTransactionRecord(
            charge_point_id=state.charge_point_id,
            connector_id=connector_id,
            id_tag=IdTag(request.id_tag),
            meter_start=request.meter_start,
            started_at=request.timestamp,
            reservation_id=request.reservation_id,
            start_id_tag_status=id_tag_info.status.value,
            owner=authorization.owner,
        ),
        services.clock.now(),
    )
    await on_start_transaction(services, state, request, transaction_id)
    services.events.publish(
        TransactionStarted(
            charge_point_id=state.charge_point_id,
            connector_id=connector_id,
            transaction_id=transaction_id,
            id_tag=request.id_tag,
            meter_start_wh=request.meter_start,
            started_at=request.timestamp,
        )
    )
    if id_tag_info.status is AuthorizationStatus.ACCEPTED:
        services.load_control.on_transaction_started(
            state.charge_point_id, connector_id, transaction_id, request.timestamp
        )
    return StartTransactionResponse(transaction_id=transaction_id, id_tag_info=id_tag_info)
