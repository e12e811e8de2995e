"""Live charger connections of this process, and the one way to reach one.

"Send this to charger X" goes through :meth:`Stations.get` today; when several nodes share the
work (DESIGN §1) this is the seam where a command is routed to the node holding X.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from chargedeck.csms.context import ConnectionState
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.base import Message


class StationLink(Protocol):
    """A live connection to one charger, as the application layer sees it."""

    @property
    def state(self) -> ConnectionState: ...

    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        """Send a CALL and return the typed answer.

        Raises ocpp.errors.CallErrorReceived, CallTimeout, InvalidResponse, or
        ChargePointDisconnected if the connection ends first.
        """
        ...

    async def close(self, code: int, reason: str) -> None: ...


class ChargePointDisconnected(Exception):
    """The charger's connection ended before it answered."""

    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} disconnected before answering")
        self.charge_point_id = charge_point_id


class Stations:
    """Charge point id -> its live connection. The newest connection for an id wins."""

    def __init__(self) -> None:
        self._links: dict[ChargePointId, StationLink] = {}

    def attach(self, link: StationLink) -> StationLink | None:
        """Make ``link`` the connection of its charger; return the one it replaces, if any."""
        charge_point_id = link.state.charge_point_id
        previous = self._links.get(charge_point_id)
        self._links[charge_point_id] = link
        return previous if previous is not link else None

    def detach(self, link: StationLink) -> None:
        """Forget ``link`` unless a newer connection already replaced it."""
        charge_point_id = link.state.charge_point_id
        if self._links.get(charge_point_id) is link:
            del self._links[charge_point_id]

    def get(self, charge_point_id: str) -> StationLink | None:
        return self._links.get(ChargePointId(charge_point_id))

    def __iter__(self) -> Iterator[StationLink]:
        return iter(list(self._links.values()))

    def __len__(self) -> int:
        return len(self._links)
