"""Remote trigger (OCPP 1.6 §5.17 TriggerMessage): per charger, in bulk, and after a reconnect.

* :func:`trigger` asks one charger for one message; :func:`trigger_bulk` asks many at once, at
  most :data:`BULK_CONCURRENCY` at a time, and reports each charger's outcome (including "not
  connected") instead of failing as a whole.
* **Reconnect without a boot** (:func:`on_connected`, from the WebSocket edge): Wallbox Pulsar
  Pro FW 6.11.16 reconnects, sends StatusNotification and no BootNotification, and answers
  TriggerMessage(BootNotification) within about 1 s (field notes Q2, ``evcc-io/evcc#28539``,
  fix ``#28540``). A connection that sent no BootNotification within
  :data:`BOOT_TRIGGER_DELAY_S` is asked for one; once that boot is answered Accepted, for a
  StatusNotification of every connector (no connectorId, §5.17) so its state is known.
  Nothing else is sent before the boot is answered (``send_command`` refuses it, OCPP 1.6
  §4.2.1); TriggerMessage(BootNotification) is the one exception.
* **Interplay with csms/reconciliation.py**: its reconnect check runs at
  ``RECONNECT_BOOT_WAIT_S`` (10 s), after this module's boot trigger (5 s), so by then the boot
  it needs before it may send its own triggers has normally been answered. The triggered boot is
  marked on the connection (``ConnectionState.boot_triggered_at``, set before the request goes
  out, because the charger sends the boot right after its .conf): ``on_boot`` then does not close
  the open transactions as after a reboot, and ``reconcile_after_connect`` asks about them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from chargedeck.csms.commands import (
    ChargePointNotConnected,
    CommandError,
    CommandNotAllowed,
    UnknownChargePoint,
    send_command,
)
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.reconciliation import _spawn
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.enums import MessageTrigger, RegistrationStatus, TriggerMessageStatus
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse

log = logging.getLogger(__name__)

BOOT_TRIGGER_DELAY_S = 5.0
"""How long a new connection may stay without BootNotification before ChargeDeck asks for one:
evcc waits 5 s for the Pulsar Pro (``evcc-io/evcc#28540``, field notes Q2), and it is half of
reconciliation's 10 s wait so the boot is answered before that check runs."""

BOOT_ANSWER_WAIT_S = 10.0
"""How long the triggered BootNotification may take after the charger accepted the trigger
(the Pulsar Pro sends it within about 1 s, ``evcc-io/evcc#28539``; the margin is for a slow
cellular link)."""

BOOT_POLL_INTERVAL_S = 0.05
"""How often the connection is checked for the answered boot while waiting for it."""

BULK_CONCURRENCY = 20
"""Chargers asked at once by :func:`trigger_bulk`: each call may wait the call time-out (30 s) for
a charger on a bad link, so a bound keeps a bulk over a whole site from opening hundreds of calls
at once while still finishing 100 responsive chargers in a few round trips."""

CONNECTOR_MESSAGES = frozenset({MessageTrigger.STATUS_NOTIFICATION, MessageTrigger.METER_VALUES})
"""The messages that are about one connector (OCPP 1.6 §6.51: connectorId only where relevant)."""


class InvalidTrigger(CommandError):
    """A trigger request that is wrong in itself (the API answers 422)."""


@dataclass(frozen=True)
class TriggerResult:
    """One charger's outcome in a bulk trigger. ``status`` is the charger's answer (Accepted,
    Rejected, NotImplemented) or why it was not asked or did not answer: NotConnected,
    UnknownChargePoint, NotAllowed, Timeout, Error; ``detail`` says it in a sentence."""

    charge_point_id: str
    status: str
    detail: str | None = None


def check_trigger(requested_message: MessageTrigger, connector_id: int | None) -> None:
    """Raise :class:`InvalidTrigger` unless ``connector_id`` is absent, or given for a
    StatusNotification or MeterValues and a connector number (> 0)."""
    if connector_id is None:
        return
    if requested_message not in CONNECTOR_MESSAGES:
        raise InvalidTrigger(
            f"connector_id is only for StatusNotification and MeterValues, not "
            f"{requested_message.value}"
        )
    if connector_id <= 0:
        raise InvalidTrigger(
            f"connector_id {connector_id} is not a connector number (1 or more); leave it out "
            "to ask about the whole charge point"
        )


async def trigger(
    services: CsmsServices,
    charge_point_id: str,
    requested_message: MessageTrigger,
    connector_id: int | None = None,
    timeout_s: float | None = None,
) -> TriggerMessageStatus:
    """Ask the charger to send ``requested_message`` now; return its answer (Accepted, Rejected
    or NotImplemented). Raises InvalidTrigger, what ``send_command`` raises (UnknownChargePoint,
    ChargePointNotConnected, CommandNotAllowed, CallErrorReceived, CallTimeout, InvalidResponse,
    ChargePointDisconnected)."""
    check_trigger(requested_message, connector_id)
    request = TriggerMessageRequest(requested_message=requested_message, connector_id=connector_id)
    # send_command marks a BootNotification it asks for (ConnectionState.boot_triggered_at).
    answer = await send_command(services, charge_point_id, request, timeout_s)
    assert isinstance(answer, TriggerMessageResponse)
    log.info(
        "charge point %s answered TriggerMessage(%s%s) with %s",
        charge_point_id,
        requested_message.value,
        "" if connector_id is None else f", connector {connector_id}",
        answer.status.value,
    )
    return answer.status


async def trigger_bulk(
    services: CsmsServices,
    charge_point_ids: Sequence[str],
    requested_message: MessageTrigger,
    connector_id: int | None = None,
    *,
    concurrency: int = BULK_CONCURRENCY,
) -> list[TriggerResult]:
    """Ask each charger (in the order given, duplicates once) for ``requested_message``, at most
    ``concurrency`` at a time; one result per charger, whatever happened to the others. Raises
    InvalidTrigger before asking anyone."""
    check_trigger(requested_message, connector_id)
    limit = asyncio.Semaphore(concurrency)

    async def one(charge_point_id: str) -> TriggerResult:
        async with limit:
            return await _trigger_one(services, charge_point_id, requested_message, connector_id)

    unique = list(dict.fromkeys(charge_point_ids))
    return list(await asyncio.gather(*(one(cp) for cp in unique)))


async def _trigger_one(
    services: CsmsServices,
    charge_point_id: str,
    requested_message: MessageTrigger,
    connector_id: int | None,
) -> TriggerResult:
    try:
        status = await trigger(services, charge_point_id, requested_message, connector_id)
    except UnknownChargePoint as exc:
        return TriggerResult(charge_point_id, "UnknownChargePoint", str(exc))
    except (ChargePointNotConnected, ChargePointDisconnected) as exc:
        return TriggerResult(charge_point_id, "NotConnected", str(exc))
    except CommandNotAllowed as exc:
        return TriggerResult(charge_point_id, "NotAllowed", str(exc))
    except CallTimeout as exc:
        return TriggerResult(charge_point_id, "Timeout", str(exc))
    except (CallErrorReceived, InvalidResponse) as exc:
        return TriggerResult(charge_point_id, "Error", str(exc))
    return TriggerResult(charge_point_id, status.value)


# ---- reconnect without a boot ---------------------------------------------------------------


def on_connected(services: CsmsServices, state: ConnectionState) -> asyncio.TimerHandle:
    """A charger's connection just opened (called by the WebSocket edge). Returns at once: after
    :data:`BOOT_TRIGGER_DELAY_S`, :func:`ask_for_boot` runs if it is still silent. A timer until
    then, not a sleeping task (memory of an idle charger, bench idle phase)."""
    return asyncio.get_running_loop().call_later(
        BOOT_TRIGGER_DELAY_S,
        lambda: _spawn(
            ask_for_boot(services, state, boot_wait_s=0),
            f"boot trigger of {state.charge_point_id} if it is silent",
        ),
    )


async def ask_for_boot(
    services: CsmsServices,
    state: ConnectionState,
    *,
    boot_wait_s: float = BOOT_TRIGGER_DELAY_S,
    answer_wait_s: float = BOOT_ANSWER_WAIT_S,
) -> bool:
    """If the connection sent no BootNotification within ``boot_wait_s``, ask for one; once it is
    answered Accepted, ask for the StatusNotification of every connector. True if both were
    asked for and accepted; a refusal or a silent charger is logged as a warning."""
    await asyncio.sleep(boot_wait_s)
    charge_point_id = state.charge_point_id
    if state.boot_status is not None or not _still_connected(services, state):
        return False
    log.info(
        "charge point %s sent no BootNotification within %.0f s of connecting: asking for one "
        "(TriggerMessage, field notes Q2)",
        charge_point_id,
        boot_wait_s,
    )
    if not await _ask(services, state, MessageTrigger.BOOT_NOTIFICATION):
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + answer_wait_s
    while state.boot_status is None:
        if loop.time() >= deadline or not _still_connected(services, state):
            log.warning(
                "charge point %s accepted TriggerMessage(BootNotification) but sent no "
                "BootNotification within %.0f s; nothing is sent to it until it boots",
                charge_point_id,
                answer_wait_s,
            )
            return False
        await asyncio.sleep(BOOT_POLL_INTERVAL_S)
    if state.boot_status != RegistrationStatus.ACCEPTED.value:
        return False  # Pending: its messages are refused until adoption; Rejected: send nothing
    return await _ask(services, state, MessageTrigger.STATUS_NOTIFICATION)


def _still_connected(services: CsmsServices, state: ConnectionState) -> bool:
    link = services.stations.get(state.charge_point_id)
    return link is not None and link.state is state


async def _ask(services: CsmsServices, state: ConnectionState, message: MessageTrigger) -> bool:
    try:
        status = await trigger(services, state.charge_point_id, message)
    except (
        CommandError,
        ChargePointDisconnected,
        CallErrorReceived,
        CallTimeout,
        InvalidResponse,
    ) as exc:
        log.warning(
            "charge point %s: TriggerMessage(%s) after connecting failed: %s",
            state.charge_point_id,
            message.value,
            exc,
        )
        return False
    if status is not TriggerMessageStatus.ACCEPTED:
        log.warning(
            "charge point %s answered TriggerMessage(%s) after connecting with %s",
            state.charge_point_id,
            message.value,
            status.value,
        )
        return False
    return True
