"""Load control: keeps every connector's current limit where the site, the operator, the mode and
the charger model put it, and says why (DESIGN §7, docs/smart-charging.md).

Event-driven: the OCPP handlers, the API and the MQTT input call the ``on_*`` / ``*_changed`` /
``receive_reading`` methods, which only note what happened and schedule one debounced
recomputation per site; the work runs in the background and never delays an answer to a
charger. Inert until :meth:`LoadControl.start` (the in-memory test pairs never start it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chargedeck.domain.charging_modes import GridReading, SolarReading

if TYPE_CHECKING:
    from chargedeck.csms.context import ConnectionState, CsmsServices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EffectiveLimit:
    """One connector's limit in force and the chain that produced it (API and UI)."""

    charge_point_id: str
    connector_id: int
    limit_a: float | None
    """Amps per phase in force now (0 = paused); None when ChargeDeck sets none."""
    safe_limit_a: float | None
    """The fail-safe TxDefaultProfile limit the charger falls back to without ChargeDeck."""
    steps: tuple[str, ...]
    """What capped it, in order, with the numbers."""
    profile_status: str | None
    """The charger's answer to the last limit profile: accepted, rejected, ..."""
    sent_at: datetime | None
    offered_a: float | None
    """What the charger itself reports offering (Current.Offered), where it does."""
    measured_a: float | None
    """What the connector draws (Current.Import, highest phase)."""


class LoadControl:
    """The one place limits are decided and sent."""

    def __init__(self) -> None:
        self._services: CsmsServices | None = None

    def start(self, services: CsmsServices) -> None:
        """Begin: from now on events are acted on."""
        self._services = services

    async def close(self) -> None:
        """Stop the background work (pending recomputations are dropped)."""
        self._services = None

    # ---- events from the OCPP handlers ---------------------------------------------------------

    def on_boot(self, state: ConnectionState) -> None:
        """A charger's boot was accepted: its fail-safe TxDefaultProfile is (re)sent."""

    def on_disconnected(self, charge_point_id: str) -> None:
        """A charger's connection ended."""

    def on_status(self, charge_point_id: str, connector_id: int, status: str) -> None:
        """StatusNotification: a car arrived, left, started or stopped drawing."""

    def on_transaction_started(
        self, charge_point_id: str, connector_id: int, transaction_id: int, started_at: datetime
    ) -> None:
        """StartTransaction accepted and recorded."""

    def on_transaction_stopped(self, charge_point_id: str, transaction_id: int) -> None:
        """StopTransaction (or reconciliation) closed a transaction."""

    def on_meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        current_import_a: tuple[float, ...],
        current_offered_a: float | None,
        at: datetime,
    ) -> None:
        """Current.Import per phase (and Current.Offered) from a MeterValues."""

    # ---- operator and inputs ----------------------------------------------------------------

    def site_changed(self, site_id: int | None) -> None:
        """A site, circuit or placement changed (None: any, e.g. a site was deleted)."""

    def charger_changed(self, charge_point_id: str) -> None:
        """A charger's operator limit, placement or a session's mode changed."""

    async def receive_reading(
        self, site_id: int, reading: GridReading | SolarReading, source: str
    ) -> None:
        """A grid meter or solar reading from the API or MQTT: stored, then acted on."""

    def effective_limits(self, charge_point_id: str) -> list[EffectiveLimit]:
        """The limit in force on each connector of a charger, with its explanation."""
        return []
