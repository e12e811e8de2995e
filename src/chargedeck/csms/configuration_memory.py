"""Configuration memory and bulk operations (issue 7).

* **Snapshots**: :func:`snapshot` reads a charger's full configuration (GetConfiguration with no
  key list, OCPP 1.6 §5.8), refreshes the last-reported keys (``csms/configuration.py``) and
  keeps a snapshot with secret values masked. :func:`on_connected` (from the WebSocket edge)
  takes one after every (re)connection: ``configuration_snapshot_delay_s`` after the charger's
  boot was accepted (nothing is sent before, Wallbox FW 6.6-6.7, field notes Q1), and, while a
  transaction is open on it, again every ``configuration_snapshot_delay_s`` until none is (a
  full read of 50+ keys is not worth disturbing a session; checking the store once a minute is
  cheap and needs no hook in StopTransaction). The wait ends when the connection does.
* **Templates**: :func:`apply_template` checks each wanted value first
  (``domain/configuration_keys.py``: read-only, format) and sends one ChangeConfiguration per
  remaining key, charger by charger concurrently (at most :data:`BULK_CONCURRENCY` at once),
  with the answer per key and the chargers that need a reboot.
* **Bulk commands**: :func:`bulk` sends one ChangeAvailability, Reset or UnlockConnector to
  many chargers with the outcome per charger; NotSupported (e.g. UnlockConnector on a
  tethered charger) is reported as "not supported", not as a failure.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from chargedeck.csms.commands import (
    ChargePointNotConnected,
    CommandError,
    UnknownChargePoint,
    send_command,
)
from chargedeck.csms.configuration import charger_model, read_configuration
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.reconciliation import open_transactions
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.configuration_keys import SnapshotKey, check_wanted_value
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16 import core
from chargedeck.ocpp.v16.base import Message
from chargedeck.ocpp.v16.enums import ConfigurationStatus, RegistrationStatus
from chargedeck.store.configuration_memory import SnapshotRecord, TemplateRecord
from chargedeck.store.errors import StoreError

log = logging.getLogger(__name__)

BULK_CONCURRENCY = 20
"""Chargers worked on at once by a bulk command or a template: each charger takes one CALL at a
time anyway (OCPP-J §4), and 20 keeps a 500-charger Reset from opening 500 waits at once."""

BULK_ACTIONS: dict[str, type[Message]] = {
    "ChangeAvailability": core.ChangeAvailabilityRequest,
    "Reset": core.ResetRequest,
    "UnlockConnector": core.UnlockConnectorRequest,
}
"""The actions ``POST /bulk/{action}`` sends (issue 7)."""

T = TypeVar("T")
_background: set[asyncio.Task[Any]] = set()

SNAPSHOT_CONCURRENCY = 20
"""Snapshots taken at once. After a mass connect (a CSMS restart, a network outage) every
charger's snapshot falls due within the same minute: 20,000 of them at once stalled every
other message for up to 2 s (bench/fleet.py, 20,000-charger hold). Like BULK_CONCURRENCY."""
_snapshot_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    """The running loop's snapshot limit (a semaphore belongs to one event loop)."""
    loop = asyncio.get_running_loop()
    slots = _snapshot_slots.get(loop)
    if slots is None:
        slots = _snapshot_slots[loop] = asyncio.Semaphore(SNAPSHOT_CONCURRENCY)
    return slots


# ---- snapshots -------------------------------------------------------------------------------


async def snapshot(services: CsmsServices, charge_point_id: ChargePointId) -> SnapshotRecord:
    """Read every key of the charger, refresh its last-reported keys and keep a masked snapshot.

    Raises what ``send_command`` raises, and ``StoreError``.
    """
    answer = await read_configuration(services, charge_point_id)
    record = await services.store.charge_points.get_charge_point(charge_point_id)
    return await services.store.configuration_memory.add_snapshot(
        charge_point_id,
        [
            SnapshotKey(entry.key, entry.value, entry.read_only)
            for entry in answer.configuration_key or ()
        ],
        answer.unknown_key or (),
        firmware_version=None if record is None else record.firmware_version,
        now=services.clock.now(),
    )


def on_connected(services: CsmsServices, state: ConnectionState) -> asyncio.TimerHandle:
    """A charger's connection opened (called by the WebSocket edge): returns at once; after
    ``configuration_snapshot_delay_s`` (plus up to as much again, at random, so that chargers
    that connected together are not all read together) the snapshot is taken in the background
    (module docstring). A timer until then, not a sleeping task: ~1.5 KB less per idle charger."""
    delay_s = services.settings.configuration_snapshot_delay_s
    first_s = delay_s * (1.0 + random.random())

    def start() -> None:
        task = asyncio.get_running_loop().create_task(
            snapshot_when_idle(services, state, delay_s, first_wait_s=0),
            name=f"configuration snapshot of {state.charge_point_id}",
        )
        _background.add(task)
        task.add_done_callback(_background.discard)

    return asyncio.get_running_loop().call_later(first_s, start)


def background_tasks() -> frozenset[asyncio.Task[Any]]:
    """Snapshot waits running now (a shutdown may cancel them)."""
    return frozenset(_background)


async def snapshot_when_idle(
    services: CsmsServices,
    state: ConnectionState,
    delay_s: float,
    first_wait_s: float | None = None,
) -> SnapshotRecord | None:
    """Every ``delay_s`` while ``state`` is the charger's connection: once its boot is accepted
    and no transaction is open on it, take the snapshot. None when the connection ended first
    or the snapshot failed (logged as a warning: the next connection tries again)."""
    charge_point_id = state.charge_point_id
    wait_s = delay_s if first_wait_s is None else first_wait_s
    while True:
        await asyncio.sleep(wait_s)
        wait_s = delay_s
        link = services.stations.get(charge_point_id)
        if link is None or link.state is not state:
            return None
        if (
            state.boot_status != RegistrationStatus.ACCEPTED.value
            or state.registration is not Registration.REGISTERED
        ):
            continue
        try:
            running = await open_transactions(services, charge_point_id)
            if running:
                log.info(
                    "charge point %s: configuration snapshot deferred, transaction %s is open",
                    charge_point_id,
                    running[0].id,
                )
                continue
            async with _slots():
                taken = await snapshot(services, charge_point_id)
        except (StoreError, CommandError, ChargePointDisconnected) as exc:
            log.warning("charge point %s: no configuration snapshot: %s", charge_point_id, exc)
            return None
        except (CallErrorReceived, CallTimeout, InvalidResponse) as exc:
            log.warning("charge point %s: no configuration snapshot: %s", charge_point_id, exc)
            return None
        log.info(
            "charge point %s: configuration snapshot %d taken (%d keys)",
            charge_point_id,
            taken.id,
            len(taken.keys),
        )
        return taken


# ---- outcomes shared by templates and bulk commands -----------------------------------------


class Outcome(enum.StrEnum):
    """What happened to one request to one charger, for the operator."""

    ACCEPTED = "accepted"
    REBOOT_REQUIRED = "reboot required"
    REJECTED = "rejected"
    NOT_SUPPORTED = "not supported"
    REFUSED = "refused"  # by ChargeDeck, before sending (read-only key, value format)
    NOT_CONNECTED = "not connected"
    UNKNOWN_CHARGE_POINT = "unknown charge point"
    FAILED = "failed"  # no answer, CALLERROR, invalid answer, disconnected


# Answers that are "not supported" whatever the action: the status NotSupported (§7.22 and
# §7.46), and the CALLERRORs a charger without the feature sends (OCPP-J §4.2.3).
_NOT_SUPPORTED_STATUSES = frozenset({"NotSupported"})
_NOT_SUPPORTED_ERRORS = frozenset({"NotSupported", "NotImplemented"})
_ACCEPTED_STATUSES = frozenset({"Accepted", "Unlocked", "Scheduled"})


def outcome_of_status(status: str) -> Outcome:
    """The outcome of a charger's status answer (Accepted, Scheduled, Unlocked, RebootRequired,
    NotSupported, Rejected, UnlockFailed)."""
    if status in _ACCEPTED_STATUSES:
        return Outcome.ACCEPTED
    if status == ConfigurationStatus.REBOOT_REQUIRED.value:
        return Outcome.REBOOT_REQUIRED
    if status in _NOT_SUPPORTED_STATUSES:
        return Outcome.NOT_SUPPORTED
    return Outcome.REJECTED


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: str | None
    """The charger's status as it sent it; None when it gave none."""
    detail: str | None = None


async def _ask(services: CsmsServices, charge_point_id: str, request: Message) -> Answer:
    """Send ``request``; every way it can go wrong becomes an :class:`Answer` with a sentence."""
    try:
        response = await send_command(services, charge_point_id, request)
    except UnknownChargePoint as exc:
        return Answer(Outcome.UNKNOWN_CHARGE_POINT, None, str(exc))
    except ChargePointNotConnected as exc:
        return Answer(Outcome.NOT_CONNECTED, None, str(exc))
    except CallErrorReceived as exc:
        if exc.code in _NOT_SUPPORTED_ERRORS:
            return Answer(Outcome.NOT_SUPPORTED, None, str(exc))
        return Answer(Outcome.FAILED, None, str(exc))
    except (CommandError, CallTimeout, InvalidResponse, ChargePointDisconnected) as exc:
        return Answer(Outcome.FAILED, None, str(exc))
    status = str(getattr(response, "status", ""))
    return Answer(outcome_of_status(status), status)


async def _bounded(
    items: Sequence[str], work: Callable[[str], Awaitable[T]], limit: int = BULK_CONCURRENCY
) -> list[T]:
    """``work`` over ``items`` with at most ``limit`` running at once, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: str) -> T:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


# ---- templates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyResult:
    key: str
    outcome: Outcome
    status: str | None
    detail: str | None


@dataclass(frozen=True)
class ChargerApplyResult:
    charge_point_id: str
    outcome: Outcome
    """ACCEPTED when every key was sent and accepted; REBOOT_REQUIRED if any key needs it;
    NOT_CONNECTED / UNKNOWN_CHARGE_POINT when nothing was sent; else FAILED."""
    keys: list[KeyResult]


@dataclass(frozen=True)
class ApplyResult:
    template: str
    chargers: list[ChargerApplyResult]
    reboot_required: list[str]
    """Chargers that answered RebootRequired for some key: the change takes effect after a
    Reset, which ChargeDeck does not send by itself (§5.3)."""


async def apply_template(
    services: CsmsServices, charge_point_ids: Sequence[str], template: TemplateRecord
) -> ApplyResult:
    """Set the template's keys on each charger (see the module docstring)."""

    async def one(charge_point_id: str) -> ChargerApplyResult:
        return await _apply_to(services, charge_point_id, template)

    chargers = await _bounded(list(dict.fromkeys(charge_point_ids)), one)
    return ApplyResult(
        template=template.name,
        chargers=chargers,
        reboot_required=[
            result.charge_point_id
            for result in chargers
            if result.outcome is Outcome.REBOOT_REQUIRED
        ],
    )


async def _apply_to(
    services: CsmsServices, charge_point_id: str, template: TemplateRecord
) -> ChargerApplyResult:
    known = await services.store.charge_points.get_charge_point(ChargePointId(charge_point_id))
    if known is None:
        return ChargerApplyResult(charge_point_id, Outcome.UNKNOWN_CHARGE_POINT, [])
    model = charger_model(known).name
    if template.charger_model is not None and template.charger_model != model:
        other_model = f"template {template.name!r} is for {template.charger_model}, not {model}"
        return ChargerApplyResult(
            charge_point_id,
            Outcome.REFUSED,
            [KeyResult(key, Outcome.REFUSED, None, other_model) for key in template.keys],
        )
    if services.stations.get(charge_point_id) is None:
        return ChargerApplyResult(charge_point_id, Outcome.NOT_CONNECTED, [])
    reported = {
        record.key.casefold(): record.readonly
        for record in await services.store.configuration.list_keys(
            ChargePointId(charge_point_id), template.keys
        )
    }
    results: list[KeyResult] = []
    for key, value in template.keys.items():
        refusal = check_wanted_value(key, value, reported_readonly=reported.get(key.casefold()))
        if refusal is not None:
            results.append(KeyResult(key, Outcome.REFUSED, None, refusal))
            continue
        answer = await _ask(
            services, charge_point_id, core.ChangeConfigurationRequest(key=key, value=value)
        )
        results.append(KeyResult(key, answer.outcome, answer.status, answer.detail))
        if answer.outcome in (Outcome.NOT_CONNECTED, Outcome.FAILED):
            break  # the connection is gone or the charger stopped answering: stop here
    changed = [r.key for r in results if r.outcome in (Outcome.ACCEPTED, Outcome.REBOOT_REQUIRED)]
    if changed:
        try:  # the last-reported keys follow, so that drift shows the new values at once
            await read_configuration(services, ChargePointId(charge_point_id), changed[:50])
        except (CommandError, ChargePointDisconnected, CallErrorReceived, CallTimeout) as exc:
            log.warning("charge point %s: keys not read back: %s", charge_point_id, exc)
        except (InvalidResponse, StoreError) as exc:
            log.warning("charge point %s: keys not read back: %s", charge_point_id, exc)
    outcomes = {result.outcome for result in results}
    if outcomes <= {Outcome.ACCEPTED}:
        overall = Outcome.ACCEPTED
    elif Outcome.REBOOT_REQUIRED in outcomes:
        overall = Outcome.REBOOT_REQUIRED
    else:
        overall = Outcome.FAILED if outcomes & {Outcome.FAILED} else Outcome.REJECTED
    log.info(
        "charge point %s: template %r applied: %s",
        charge_point_id,
        template.name,
        ", ".join(f"{r.key} {r.outcome.value}" for r in results),
    )
    return ChargerApplyResult(charge_point_id, overall, results)


# ---- bulk commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    charge_point_id: str
    outcome: Outcome
    status: str | None
    detail: str | None


async def bulk(
    services: CsmsServices,
    charge_point_ids: Sequence[str],
    request: Message,
    progress: Callable[[BulkResult], None] | None = None,
) -> list[BulkResult]:
    """Send ``request`` to every charger (at most :data:`BULK_CONCURRENCY` at once); the outcome
    per charger, in the order given. ``progress`` is called as each one finishes."""

    async def one(charge_point_id: str) -> BulkResult:
        answer = await _ask(services, charge_point_id, request)
        result = BulkResult(charge_point_id, answer.outcome, answer.status, answer.detail)
        if progress is not None:
            progress(result)
        return result

    results = await _bounded(list(dict.fromkeys(charge_point_ids)), one)
    log.info(
        "bulk %s to %d charger(s): %s",
        type(request).__name__.removesuffix("Request"),
        len(results),
        ", ".join(f"{r.charge_point_id} {r.outcome.value}" for r in results),
    )
    return results
