"""Operator commands to chargers: the one Python interface behind the API and the CLI.

``await send_command(services, charge_point_id, request)`` returns the charger's typed answer or
raises a typed error: :class:`UnknownChargePoint`, :class:`ChargePointNotConnected`,
:class:`CommandNotAllowed`, or the protocol's CallErrorReceived / CallTimeout / InvalidResponse,
or ChargePointDisconnected. Nothing hangs: a charger that is not connected fails at once, and a
connected one that does not answer fails after the call time-out.
"""

from __future__ import annotations

from collections.abc import Mapping

from chargedeck.csms.commands.command import Command
from chargedeck.csms.commands.core import CORE_COMMANDS
from chargedeck.csms.commands.local_auth import LOCAL_AUTH_COMMANDS
from chargedeck.csms.commands.remote_trigger import REMOTE_TRIGGER_COMMANDS
from chargedeck.csms.commands.reservation import RESERVATION_COMMANDS
from chargedeck.csms.commands.security import SECURITY_COMMANDS
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.base import Message

# THE command table: action name -> command (one row per command, STYLE rule 2).
COMMANDS: Mapping[str, Command] = {
    command.action: command
    for command in (
        *CORE_COMMANDS,
        *LOCAL_AUTH_COMMANDS,
        *RESERVATION_COMMANDS,
        *REMOTE_TRIGGER_COMMANDS,
        *SECURITY_COMMANDS,
    )
}
_COMMAND_BY_REQUEST_TYPE: Mapping[type[Message], Command] = {
    command.request: command for command in COMMANDS.values()
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
    command = _COMMAND_BY_REQUEST_TYPE.get(type(request))
    if command is None:
        raise CommandNotAllowed(f"{type(request).__name__} is not an operator command")
    if command.check is not None:
        refusal = command.check(services, charge_point_id, request)
        if refusal is not None:
            raise CommandNotAllowed(refusal)
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
