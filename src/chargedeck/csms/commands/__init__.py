"""Operator commands to chargers: the one Python interface behind the API and the CLI.

``await send_command(services, charge_point_id, request)`` returns the charger's typed answer or
raises a typed error: :class:`UnknownChargePoint`, :class:`ChargePointNotConnected`,
:class:`CommandNotAllowed`, or the protocol's CallErrorReceived / CallTimeout / InvalidResponse,
or ChargePointDisconnected. Nothing hangs: a charger that is not connected fails at once, and a
connected one that does not answer fails after the call time-out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chargedeck.csms.commands.core import CORE_COMMANDS
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.base import Message


@dataclass(frozen=True)
class Command:
    """One row of the command table: an action the operator may send, and its rule."""

    action: str
    request: type[Message]
    needs_accepted_boot: bool
    """OCPP 1.6 §4.2.1: RemoteStart/RemoteStop are not allowed while the charger is Pending."""


COMMANDS: Mapping[str, Command] = {
    name: Command(name, request_type, needs_accepted_boot)
    for name, (request_type, needs_accepted_boot) in CORE_COMMANDS.items()
}


class CommandError(Exception):
    """A command we refuse before anything is sent; the message says why."""


class UnknownChargePoint(CommandError):
    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is not known to this CSMS")


class ChargePointNotConnected(CommandError):
    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is not connected")


class CommandNotAllowed(CommandError):
    """The command is not available, or not allowed in the charger's current state."""


async def send_command(
    services: CsmsServices, charge_point_id: str, request: Message, timeout_s: float | None = None
) -> Message:
    """Send an operator command to a connected charger and return its typed answer."""
    command = next((c for c in COMMANDS.values() if c.request is type(request)), None)
    if command is None:
        raise CommandNotAllowed(f"{type(request).__name__} is not an operator command")
    link = services.stations.get(charge_point_id)
    if link is None:
        if (
            await services.store.charge_points.get_charge_point(ChargePointId(charge_point_id))
            is None
        ):
            raise UnknownChargePoint(charge_point_id)
        raise ChargePointNotConnected(charge_point_id)
    if command.needs_accepted_boot and link.state.registration is not Registration.REGISTERED:
        raise CommandNotAllowed(
            f"{command.action} is not allowed while charge point {charge_point_id!r} is "
            "pending adoption (OCPP 1.6 §4.2.1)"
        )
    return await link.call(request, timeout_s)
