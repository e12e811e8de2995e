"""What a simulated charger reports to whoever runs it (the live view, ``--json``, tests)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ConnectionState(enum.StrEnum):
    """The connection states the Wallbox app shows (Wallbox OCPP setup guide)."""

    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    REJECTED = "Connection Rejected"
    CERTIFICATE_FAILED = "Certificate Validation Failed"
    DISCONNECTED = "Disconnected"


class EventKind(enum.StrEnum):
    CONNECTION = "connection"
    """``state``: a ConnectionState; ``reason`` when refused or lost (also with Connecting
    when the last attempt failed); ``http_status`` with Connection Rejected (0: the CSMS took
    the upgrade but not ocpp1.6)."""
    REGISTRATION = "registration"
    """BootNotification answered: ``status`` Accepted / Pending / Rejected, ``interval``."""
    STATUS = "status"
    """A connector's status changed: ``connector_id``, ``status``, ``error_code``."""
    TRANSACTION = "transaction"
    """``action`` started / stopped / refused, ``connector_id``, ``transaction_id``, ``id_tag``,
    ``meter_wh``, ``reason``."""
    LIMIT = "limit"
    """The limit in force on a connector changed: ``connector_id``, ``limit_a`` (None: none)."""
    METER = "meter"
    """MeterValues sent: ``connector_id``, ``power_w``, ``current_a``, ``energy_wh``, ``soc``."""
    COMMAND = "command"
    """A CSMS command answered: ``action``, ``status``."""
    QUEUED = "queued"
    """Offline: a transaction message kept for later (``action``, ``queued``) or replayed
    (``replayed`` true)."""
    FILE_TRANSFER = "file_transfer"
    """Firmware or diagnostics progress: ``kind`` firmware / diagnostics, ``status`` as in
    FirmwareStatusNotification / DiagnosticsStatusNotification."""


@dataclass(frozen=True)
class SimEvent:
    charge_point_id: str
    kind: EventKind
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
