"""One simulated charge point on ChargeDeck's own protocol core (ocpp/session.py, CHARGE_POINT).

It behaves like a real charger: it connects (Basic auth, TLS with a CA file), boots and retries
as told, heartbeats, walks its connectors through the OCPP 1.6 status transitions, starts and stops
transactions for a card tap, a plug-in or a remote start, sends MeterValues that follow the limit
in force and the EV's charging curve, queues transaction messages while offline and replays them,
reconnects with back-off, and answers every CSMS command. The charger model (models.py) decides
the quirks: Wallbox sends card UIDs little-endian, honours whole amps above a 6 A floor, puts its
placeholder idTag in StartTransaction when AuthEnabled is false.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chargedeck.simulator.ev import EvModel
from chargedeck.simulator.events import ConnectionState, SimEvent
from chargedeck.simulator.models import SimulatedModel


@dataclass(frozen=True)
class ChargerOptions:
    """How one simulated charger reaches its CSMS."""

    csms_url: str
    """``ws(s)://host:port/path``; the charge point id is appended (as a real charger does)."""
    charge_point_id: str
    password: str | None = None
    """Security profile 1/2: HTTP Basic auth with the charge point id as user name."""
    ca_file: str | None = None
    """PEM CA bundle that must have signed the server's certificate (wss://)."""
    client_cert_file: str | None = None
    client_key_file: str | None = None
    """Security profile 3: the charger's client certificate and key (PEM)."""
    connectors: int = 1
    meter_interval_s: float | None = None
    """Overrides MeterValueSampleInterval from the model's configuration."""


class SimulatedCharger:
    """Public API the fleet runner, the CLI and the tests use."""

    def __init__(
        self,
        options: ChargerOptions,
        model: SimulatedModel,
        ev: EvModel | None = None,
        on_event: Callable[[SimEvent], None] | None = None,
    ) -> None:
        raise NotImplementedError

    @property
    def connection_state(self) -> ConnectionState:
        raise NotImplementedError

    def status(self, connector_id: int = 1) -> str:
        """The connector's OCPP status as last sent (Available, Preparing, Charging, ...)."""
        raise NotImplementedError

    def limit_a(self, connector_id: int = 1) -> float | None:
        """The current limit in force from the profiles it holds (None: no profile)."""
        raise NotImplementedError

    def transaction_id(self, connector_id: int = 1) -> int | None:
        raise NotImplementedError

    def energy_wh(self, connector_id: int = 1) -> int:
        """Its energy register (Energy.Active.Import.Register)."""
        raise NotImplementedError

    def configuration(self) -> dict[str, str]:
        raise NotImplementedError

    async def run(self) -> None:
        """Connect, boot, stay connected (reconnecting with back-off) until :meth:`stop`."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Close the connection and end :meth:`run`."""
        raise NotImplementedError

    async def go_offline(self) -> None:
        """Drop the connection and stay away until :meth:`go_online` (queues meanwhile)."""
        raise NotImplementedError

    async def go_online(self) -> None:
        raise NotImplementedError

    async def plug_in(self, connector_id: int = 1) -> None:
        """A car is plugged in: Preparing; with AuthEnabled false it starts at once."""
        raise NotImplementedError

    async def tap(self, card_uid: str, connector_id: int = 1) -> None:
        """A card is presented (the UID as printed: the model decides how it goes on the wire):
        Authorize, then StartTransaction if a car is plugged in, or StopTransaction if this card
        (or its group) runs the connector's transaction."""
        raise NotImplementedError

    async def unplug(self, connector_id: int = 1) -> None:
        """The car leaves: the transaction stops (EVDisconnected), Finishing, then Available."""
        raise NotImplementedError

    async def fault(self, connector_id: int = 1, error_code: str = "GroundFailure") -> None:
        raise NotImplementedError

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
        """Wait until ``condition`` holds (checked after every event); TimeoutError otherwise."""
        raise NotImplementedError
