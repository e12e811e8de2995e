"""The Remote Trigger profile's command (OCPP 1.6 §5.17 TriggerMessage).

Allowed while a charger is Pending: a Pending charger sends nothing unless asked with
TriggerMessage (§4.2.1). Wallbox Pulsar Pro FW 6.x reconnects without a BootNotification and
sends one only when triggered (field notes Q2, ``evcc-io/evcc#28539``); ChargeDeck triggers
StatusNotification and MeterValues to reconcile open transactions (csms/reconciliation.py).
"""

from __future__ import annotations

from chargedeck.csms.commands.command import Command
from chargedeck.csms.context import CsmsServices
from chargedeck.ocpp.v16 import remote_trigger


def check_trigger_message(
    services: CsmsServices, charge_point_id: str, request: remote_trigger.TriggerMessageRequest
) -> str | None:
    """OCPP 1.6 §6.51: connectorId, when given, is a connector number (> 0); the whole charge
    point is asked by leaving it out."""
    if request.connector_id is not None and request.connector_id <= 0:
        return (
            f"connector_id {request.connector_id} is not a connector number (1 or more, OCPP 1.6 "
            "§6.51); leave it out to ask about the whole charge point"
        )
    return None


REMOTE_TRIGGER_COMMANDS: tuple[Command, ...] = (
    Command("TriggerMessage", remote_trigger.TriggerMessageRequest, check=check_trigger_message),
)
