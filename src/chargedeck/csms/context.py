"""What an OCPP handler gets: the shared services and the state of its own connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from chargedeck.clock import Clock
from chargedeck.config import Settings
from chargedeck.csms.events import EventBus
from chargedeck.csms.load_control import LoadControl
from chargedeck.domain.certificates import CertificateAuthority
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import SecurityProfile

if TYPE_CHECKING:
    from chargedeck.csms.stations import Stations
    from chargedeck.store import Store


@dataclass(slots=True)
class ConnectionState:
    """Per-connection facts the handlers read and update.

    ``registration`` is None while the charge point is not in the store at all (an unknown
    charger under the ``inbox`` or ``accept`` policy, before its first BootNotification).
    ``boot_status`` is the status we last answered to a BootNotification on this connection,
    None if it has sent none (allowed for a known charger, OCPP-J 1.6 §5.4).
    """

    charge_point_id: ChargePointId
    remote_address: str
    connected_at: datetime
    registration: Registration | None
    security_profile: SecurityProfile = SecurityProfile.NONE
    """The security profile this connection was admitted with."""
    boot_status: str | None = None
    boot_triggered_at: datetime | None = None
    """When ChargeDeck last sent an accepted (or unanswered) TriggerMessage(BootNotification) on
    this connection (csms/triggers.py): a BootNotification after it is the one asked for, not a
    reboot, so csms/reconciliation.py does not close the open transactions at it."""
    last_message_at: datetime | None = field(default=None)


@dataclass(frozen=True)
class CsmsServices:
    """The composition root hands this to every handler."""

    store: Store
    settings: Settings
    clock: Clock
    stations: Stations
    certificate_authority: CertificateAuthority | None = None
    """ChargeDeck's own CA (``chargedeck certs init``), which signs chargers' CSRs
    (SignCertificate); None when the operator brought their own certificates."""
    files_base_url: str = ""
    """Where chargers reach ChargeDeck's file endpoint (server/files.py), no trailing slash:
    firmware and diagnostics locations start with it; empty when it is not running."""
    ftp_base_url: str = ""
    """``ftp://HOST:PORT`` of the FTP endpoint (server/ftp.py) for chargers that upload only by
    FTP; empty when ``ftp_enabled`` is false."""
    load_control: LoadControl = field(default_factory=LoadControl)
    """Site load management and limits (csms/load_control.py); inert until started."""
    events: EventBus = field(default_factory=EventBus)
    """Live events (csms/events.py): published by handlers after their durable write."""

    def __post_init__(self) -> None:
        if self.events.clock is None:
            self.events.clock = self.clock
