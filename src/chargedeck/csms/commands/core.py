"""The Core profile's CSMS-to-charger commands (OCPP 1.6 §5)."""

from __future__ import annotations

from chargedeck.csms.commands.command import Command
from chargedeck.ocpp.v16 import core

CORE_COMMANDS: tuple[Command, ...] = (
    Command("ChangeAvailability", core.ChangeAvailabilityRequest),
    Command("ChangeConfiguration", core.ChangeConfigurationRequest),
    Command("ClearCache", core.ClearCacheRequest),
    Command("DataTransfer", core.DataTransferRequest),
    Command("GetConfiguration", core.GetConfigurationRequest),
    Command("RemoteStartTransaction", core.RemoteStartTransactionRequest, needs_accepted_boot=True),
    Command("RemoteStopTransaction", core.RemoteStopTransactionRequest, needs_accepted_boot=True),
    Command("Reset", core.ResetRequest),
    Command("UnlockConnector", core.UnlockConnectorRequest),
)
