"""Free vend: ChargeDeck starts the transaction itself when a connector goes Preparing.

For chargers without an RFID reader, whose owner wants charging on plug-in while keeping the
charger locked to OCPP: a Pulsar Plus at home can only be started by RemoteStartTransaction or by
AuthEnabled=false (wallbox-field-notes Q9). With the charger's ``free_vend`` policy on, a
StatusNotification Preparing on a connector (the car is plugged in, OCPP 1.6 §7.7) makes
ChargeDeck send RemoteStartTransaction(connectorId, idTag) with the charger's
``free_vend_id_tag`` (default :data:`DEFAULT_FREE_VEND_ID_TAG`); the StartTransaction that
follows is Accepted and attributed to the charger's default owner (csms/id_tag_info.py).

The StatusNotification is answered at once: the start runs as a task of its own. It is never sent
to a charger whose boot is not accepted (OCPP 1.6 §4.2.1: no RemoteStartTransaction while
Pending; ``send_command`` refuses it too), nor to a connector with an open transaction, and at
most one is in flight per connector.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId
from chargedeck.ocpp.errors import OcppError
from chargedeck.ocpp.v16.core import RemoteStartTransactionRequest, RemoteStartTransactionResponse
from chargedeck.ocpp.v16.enums import RegistrationStatus, RemoteStartStopStatus
from chargedeck.store.errors import StoreError
from chargedeck.store.records import ChargePointRecord

log = logging.getLogger(__name__)

# The idTag of free-vend starts when the operator configured none: a name, not a card number, so
# it can never be mistaken for a card UID (8, 14 or 20 hex digits).
DEFAULT_FREE_VEND_ID_TAG: Final = "FreeVend"

# Starts in flight, one per connector: a reference keeps each task alive until it is done
# (asyncio keeps only weak references to tasks), and a second Preparing does not send twice.
_starts: dict[tuple[ChargePointId, ConnectorId], asyncio.Task[None]] = {}


def remote_start_id_tag(charge_point: ChargePointRecord) -> str:
    """The idTag ChargeDeck sends in a free-vend RemoteStartTransaction to this charger."""
    return charge_point.free_vend_id_tag or DEFAULT_FREE_VEND_ID_TAG


def on_connector_preparing(
    services: CsmsServices, state: ConnectionState, connector_id: ConnectorId
) -> None:
    """A connector went Preparing: start a free-vend transaction in the background if the
    charger's policy says so. Returns at once; nothing happens while the boot is pending."""
    if (
        state.registration is not Registration.REGISTERED
        or state.boot_status == RegistrationStatus.PENDING.value
    ):
        return
    key = (state.charge_point_id, connector_id)
    if key in _starts:
        return
    task = asyncio.get_running_loop().create_task(
        _start(services, state.charge_point_id, connector_id),
        name=f"free vend start {state.charge_point_id} connector {connector_id}",
    )
    _starts[key] = task
    task.add_done_callback(lambda _: _starts.pop(key, None))


async def _start(
    services: CsmsServices, charge_point_id: ChargePointId, connector_id: ConnectorId
) -> None:
    try:
        charge_point = await services.store.charge_points.get_charge_point(charge_point_id)
        if charge_point is None or not charge_point.free_vend:
            return
        transactions = services.store.transactions
        open_transaction = await transactions.active_transaction_for_connector(
            charge_point_id, connector_id
        )
        if open_transaction is not None:
            log.info(
                "charge point %s connector %d is Preparing with a transaction open: no free-vend "
                "start",
                charge_point_id,
                connector_id,
            )
            return
        id_tag = remote_start_id_tag(charge_point)
        answer = await send_command(
            services,
            charge_point_id,
            RemoteStartTransactionRequest(connector_id=connector_id, id_tag=id_tag),
        )
    except (CommandError, OcppError, ChargePointDisconnected, StoreError) as exc:
        log.warning(
            "charge point %s connector %d: free-vend RemoteStartTransaction not sent or not "
            "answered: %s",
            charge_point_id,
            connector_id,
            exc,
        )
        return
    assert isinstance(answer, RemoteStartTransactionResponse)
    log.log(
        logging.INFO if answer.status is RemoteStartStopStatus.ACCEPTED else logging.WARNING,
        "charge point %s answered %s to the free-vend RemoteStartTransaction on connector %d "
        "(idTag %r)",
        charge_point_id,
        answer.status.value,
        connector_id,
        id_tag,
    )
