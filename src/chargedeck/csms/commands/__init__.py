"""Operator commands to chargers: the one Python interface behind the API and the CLI.

``await send_command(services, charge_point_id, request)`` returns the charger's typed answer or
raises a typed error: :class:`UnknownChargePoint`, :class:`ChargePointNotConnected`,
:class:`CommandNotAllowed`, or the protocol's CallErrorReceived / CallTimeout / InvalidResponse,
or ChargePointDisconnected. Nothing hangs: a charger that is not connected fails at once, and a
connected one that does not answer fails after the call time-out.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from chargedeck.csms.commands.command import Command
from chargedeck.csms.commands.core import CORE_COMMANDS
from chargedeck.csms.commands.firmware import FIRMWARE_COMMANDS
from chargedeck.csms.commands.local_auth import LOCAL_AUTH_COMMANDS
from chargedeck.csms.commands.remote_trigger import REMOTE_TRIGGER_COMMANDS
from chargedeck.csms.commands.reservation import RESERVATION_COMMANDS
from chargedeck.csms.commands.security import SECURITY_COMMANDS
from chargedeck.csms.commands.smart_charging import SMART_CHARGING_COMMANDS
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import RemoteStationLink
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.masking import masked_configuration_value
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.core import GetConfigurationResponse
from chargedeck.ocpp.v16.enums import MessageTrigger, TriggerMessageStatus
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse

# THE command table: action name -> command (one row per command, STYLE rule 2).
COMMANDS: Mapping[str, Command] = {
    command.action: command
    for command in (
        *CORE_COMMANDS,
        *FIRMWARE_COMMANDS,
        *LOCAL_AUTH_COMMANDS,
        *RESERVATION_COMMANDS,
        *REMOTE_TRIGGER_COMMANDS,
        *SECURITY_COMMANDS,
        *SMART_CHARGING_COMMANDS,
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
    """Send an operator command to a connected charger and return its typed answer.

    Refused (CommandNotAllowed) before the charger's BootNotification on this connection was
    answered, except TriggerMessage(BootNotification)."""
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
    if isinstance(link, RemoteStationLink):
        # Another cluster node holds the connection: it runs these same checks against the
        # live connection state and sends (server/cluster.py).
        return await link.send_command(request, timeout_s)
    if link.state.boot_status is None and not _is_boot_trigger(request):
        # Nothing goes to a charger before its boot is answered (OCPP 1.6 §4.2.1; Wallbox FW
        # 6.6-6.7 break otherwise, field notes Q1) but the one request that asks for the boot
        # (field notes Q2, csms/triggers.py).
        raise CommandNotAllowed(
            f"charge point {charge_point_id!r} has not sent BootNotification on this connection yet"
        )
    if command.needs_accepted_boot and link.state.registration is not Registration.REGISTERED:
        raise CommandNotAllowed(
            f"{command.action} is not allowed while charge point {charge_point_id!r} is "
            "pending adoption (OCPP 1.6 §4.2.1)"
        )
    if not _is_boot_trigger(request):
        return await link.call(request, timeout_s)
    # A BootNotification ChargeDeck asked for is not a reboot (csms/reconciliation.py): marked
    # before sending, since the charger sends the boot right after its answer (§5.17), and
    # unmarked when no boot is coming. Whoever sends it: csms/triggers.py or an operator.
    state = link.state
    previous = state.boot_triggered_at
    state.boot_triggered_at = services.clock.now()
    try:
        answer = await link.call(request, timeout_s)
    except BaseException:
        state.boot_triggered_at = previous
        raise
    if not isinstance(answer, TriggerMessageResponse) or (
        answer.status is not TriggerMessageStatus.ACCEPTED
    ):
        state.boot_triggered_at = previous
    return answer


def masked_answer(answer: Message) -> Message:
    """The charger's answer as an operator may see it, wherever it is shown (the API, MQTT):
    values of secret configuration keys (``domain/masking.py``) replaced by the mask."""
    if isinstance(answer, GetConfigurationResponse) and answer.configuration_key:
        return msgspec.structs.replace(
            answer,
            configuration_key=[
                msgspec.structs.replace(
                    entry, value=masked_configuration_value(entry.key, entry.value)
                )
                for entry in answer.configuration_key
            ],
        )
    return answer


def _is_boot_trigger(request: Message) -> bool:
    return (
        isinstance(request, TriggerMessageRequest)
        and request.requested_message is MessageTrigger.BOOT_NOTIFICATION
    )
