"""Live charger connections of this process, and the one way to reach one.

"Send this to charger X" goes through :meth:`Stations.get`. With ``cluster_url`` several nodes
share the work (DESIGN §1): a charger held by another node comes back as a
:class:`RemoteStationLink` whose calls travel to that node (server/cluster.py), and the cluster is
told of every local attach and detach (:class:`StationsCluster`) so it can keep presence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol

from chargedeck.csms.context import ConnectionState
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallTimeout
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


class NodeUnreachable(ChargePointDisconnected):
    """The cluster node holding the charger's connection cannot be reached (it died, or the
    broker is down): to this node the charger is as good as disconnected (callers that handle
    ChargePointDisconnected handle this too); it reconnects elsewhere within seconds."""

    def __init__(self, charge_point_id: str, node: str, reason: str) -> None:
        super().__init__(charge_point_id)
        self.args = (
            f"charge point {charge_point_id!r} is connected to node {node!r}, "
            f"which cannot be reached: {reason}",
        )
        self.node = node


class NodeTimeout(CallTimeout):
    """The node holding the charger's connection did not answer in time (it is overloaded or
    stuck); whether the charger got the request is unknown. A CallTimeout to callers that do not
    tell them apart."""

    def __init__(self, charge_point_id: str, node: str, action: str, timeout_s: float) -> None:
        super().__init__(action, "-", timeout_s)
        self.args = (
            f"node {node!r}, which holds charge point {charge_point_id!r}, did not answer "
            f"{action} within {timeout_s:g} s; the charger may or may not have received it",
        )
        self.charge_point_id = charge_point_id
        self.node = node
        self.timeout_s = timeout_s


class RemoteStationLink(ABC):
    """A charger whose connection another cluster node holds; ``state`` is that node's view of
    the connection as of its last presence write (not live: checks run on the holding node)."""

    node: str
    state: ConnectionState

    @abstractmethod
    async def call(self, request: Message, timeout_s: float | None = None) -> Message:
        """As StationLink.call, run by the holding node; also raises NodeUnreachable and
        NodeTimeout."""

    @abstractmethod
    async def send_command(self, request: Message, timeout_s: float | None = None) -> Message:
        """An operator command: the holding node runs csms.commands.send_command, with its
        checks against the live connection state, and returns the charger's answer."""

    @abstractmethod
    async def close(self, code: int, reason: str) -> None: ...


class StationsCluster(Protocol):
    """What server/cluster.py gives Stations: presence upkeep and links to other nodes."""

    def attached(self, link: StationLink) -> None:
        """``link`` is now this node's connection of its charger."""

    def detached(self, link: StationLink) -> None:
        """This node no longer holds a connection of ``link``'s charger."""

    def remote_link(self, charge_point_id: ChargePointId) -> RemoteStationLink | None:
        """The charger's connection on another live node, or None."""

    def id_tags_changed(self) -> None:
        """An id tag changed on this node: every other node resyncs the local lists of the
        chargers it holds (csms/local_lists.py). Returns at once."""


class Stations:
    """Charge point id -> its live connection. The newest connection for an id wins."""

    def __init__(self) -> None:
        self._links: dict[ChargePointId, StationLink] = {}
        self.cluster: StationsCluster | None = None
        """Set by server/cluster.py when ``cluster_url`` is set."""

    def attach(self, link: StationLink) -> StationLink | None:
        """Make ``link`` the connection of its charger; return the one it replaces, if any."""
        charge_point_id = link.state.charge_point_id
        previous = self._links.get(charge_point_id)
        self._links[charge_point_id] = link
        if self.cluster is not None:
            self.cluster.attached(link)
        return previous if previous is not link else None

    def detach(self, link: StationLink) -> None:
        """Forget ``link`` unless a newer connection already replaced it."""
        charge_point_id = link.state.charge_point_id
        if self._links.get(charge_point_id) is link:
            del self._links[charge_point_id]
            if self.cluster is not None:
                self.cluster.detached(link)

    def get(self, charge_point_id: str) -> StationLink | RemoteStationLink | None:
        """The charger's connection: on this node, else (in a cluster) on the live node that
        holds it, else None."""
        local = self._links.get(ChargePointId(charge_point_id))
        if local is not None or self.cluster is None:
            return local
        return self.cluster.remote_link(ChargePointId(charge_point_id))

    def get_local(self, charge_point_id: str) -> StationLink | None:
        """The charger's connection on this node only."""
        return self._links.get(ChargePointId(charge_point_id))

    def __iter__(self) -> Iterator[StationLink]:
        return iter(list(self._links.values()))

    def __len__(self) -> int:
        return len(self._links)
