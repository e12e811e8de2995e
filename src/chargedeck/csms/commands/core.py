"""The Core profile's CSMS-to-charger commands (OCPP 1.6 §5): request type and boot rule."""

from __future__ import annotations

from collections.abc import Mapping

from chargedeck.ocpp.v16 import core
from chargedeck.ocpp.v16.base import Message

# action -> (request type, needs an accepted boot)
CORE_COMMANDS: Mapping[str, tuple[type[Message], bool]] = {
    "ChangeAvailability": (core.ChangeAvailabilityRequest, False),
    "ChangeConfiguration": (core.ChangeConfigurationRequest, False),
    "ClearCache": (core.ClearCacheRequest, False),
    "DataTransfer": (core.DataTransferRequest, False),
    "GetConfiguration": (core.GetConfigurationRequest, False),
    "RemoteStartTransaction": (core.RemoteStartTransactionRequest, True),
    "RemoteStopTransaction": (core.RemoteStopTransactionRequest, True),
    "Reset": (core.ResetRequest, False),
    "UnlockConnector": (core.UnlockConnectorRequest, False),
}
