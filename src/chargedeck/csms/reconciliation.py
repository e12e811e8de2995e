"""Transactions a charger left open: closed with their last reading, or recovered.

A charger that reboots forgets its transaction and may never send its StopTransaction
(field notes Q13, ``evcc-io/evcc#15707``); one that reconnects may or may not still be charging
(Q2: Pulsar Pro FW 6.x reconnects without a BootNotification, ``evcc-io/evcc#28539``); and a
home CSMS that keeps a stale transaction "active" confuses everything after it (Q17). So:

* **Boot** (:func:`on_boot`, from the BootNotification handler, after the boot is recorded):
  the charger restarted, so every transaction still open on it whose StartTransaction arrived
  before the boot is closed with its last known reading (:func:`close_with_last_reading`),
  reconciliation ``closed_at_boot``, stop reason ``Reboot``.
* **Reconnect without a boot** (:func:`on_connected`, from the WebSocket edge when a connection
  opens): after :data:`RECONNECT_BOOT_WAIT_S` without a BootNotification, each open transaction's
  connector is asked for its status and meter values (TriggerMessage, OCPP 1.6 §5.17). Charging,
  SuspendedEV or SuspendedEVSE with MeterValues carrying the transaction's id: it is still
  running and stays open (``recovered``). Available or Preparing: no session on the connector
  any more, it is closed (``closed_at_reconnect``). Anything else (no answer, Finishing,
  Faulted...) leaves it open until its StopTransaction, with a warning.
* **Available** (:func:`on_connector_available`, from the StatusNotification handler): a
  connector that reports Available while a transaction on it is open is given
  :data:`AVAILABLE_GRACE_S` for the StopTransaction to come (many chargers send Available first,
  and a failed StopTransaction is retried after TransactionMessageRetryInterval, §9.1); if it is
  still open and the connector still Available (or a newer transaction started on it), it is
  closed (``closed_when_available``, field notes §7 item 6).

The last known reading is the highest Energy.Active.Import.Register sample stored for the
transaction (and its time becomes the stop time). Without one the transaction is closed with no
meterStop, so that its energy is reported as unknown rather than 0. A StopTransaction that comes
after all still wins (store: ``corrected_by_stop``). The work runs in background tasks: it never
delays the answer to the message that set it off.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.context import ConnectionState, CsmsServices
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId
from chargedeck.domain.transactions import STOP_REASONS, Reconciliation
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.enums import ChargePointStatus, MessageTrigger, TriggerMessageStatus
from chargedeck.ocpp.v16.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from chargedeck.store import Store
from chargedeck.store.errors import StoreError
from chargedeck.store.records import TransactionRecord

log = logging.getLogger(__name__)

RECONNECT_BOOT_WAIT_S = 10.0
"""How long a charger that connected has to send its BootNotification before ChargeDeck asks it
about its open transactions: the Home Assistant OCPP integration starts its post-connect work
after BootNotification or this 10 s backstop (field notes Q1), and sending anything before the
boot is answered breaks Wallbox FW 6.6-6.7 (Q1, ``lbbrhzn/ocpp#1503``)."""

TRIGGER_ANSWER_WAIT_S = 15.0
"""How long the triggered StatusNotification and MeterValues may take to arrive after the
charger accepted the TriggerMessage (the Pulsar Pro answers a trigger within about 1 s,
``evcc-io/evcc#28539``; the margin covers a slow cellular link)."""

AVAILABLE_GRACE_S = 300.0
"""How long a transaction may stay open after its connector reported Available before ChargeDeck
closes it: a StopTransaction that failed is retried TransactionMessageAttempts times after
TransactionMessageRetryInterval x n seconds (§9.1; Wallbox defaults 3 and 60 s: 60 + 120 s),
so 300 s lets the charger's own stop come first."""

POLL_INTERVAL_S = 0.2
"""How often the store is read for the triggered messages (group-committed every 50 ms)."""

LOOKUP_DELAY_S = 0.05
"""Boots and Available statuses arriving within 50 ms (the group commit's delay) are checked for
open transactions with one read: a reconnect storm of 5,000 chargers would otherwise cost 5,000
reads of about 0.65 ms of CPU each on SQLite, more than their boots' group commits."""

CHARGING = frozenset(
    {ChargePointStatus.CHARGING, ChargePointStatus.SUSPENDED_EV, ChargePointStatus.SUSPENDED_EVSE}
)
NO_SESSION = frozenset({ChargePointStatus.AVAILABLE, ChargePointStatus.PREPARING})

_background: set[asyncio.Task[Any]] = set()


class _OpenTransactionLookups:
    """Coalesces "which transactions are open on charger X" of many chargers into one read."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: dict[ChargePointId, list[asyncio.Future[list[TransactionRecord]]]] = {}
        self._flushing: asyncio.Task[Any] | None = None

    async def of(self, charge_point_id: ChargePointId) -> list[TransactionRecord]:
        """Its open transactions, oldest first. Raises ``StoreError``."""
        future: asyncio.Future[list[TransactionRecord]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(charge_point_id, []).append(future)
        if self._flushing is None:
            self._flushing = _spawn(self._flush(), "lookup of open transactions")
        return await future

    async def _flush(self) -> None:
        waiting: dict[ChargePointId, list[asyncio.Future[list[TransactionRecord]]]] = {}
        try:
            await asyncio.sleep(LOOKUP_DELAY_S)
            waiting = self._take()
            found = await self._store.transactions.open_transactions_of(list(waiting))
        except StoreError as exc:
            _fail(waiting, exc)
            return
        except BaseException:
            # Cancelled (also while still waiting to read), or a bug (logged by _spawn): the
            # lookups waiting fail, and the next lookup starts a new read.
            _fail(waiting or self._take(), None)
            raise
        for charge_point_id, group in waiting.items():
            for future in group:
                if not future.done():
                    future.set_result(found.get(charge_point_id, []))

    def _take(self) -> dict[ChargePointId, list[asyncio.Future[list[TransactionRecord]]]]:
        waiting, self._waiting, self._flushing = self._waiting, {}, None
        return waiting


def _fail(
    waiting: dict[ChargePointId, list[asyncio.Future[list[TransactionRecord]]]],
    error: StoreError | None,
) -> None:
    """Raise ``error`` in every waiting lookup (None: cancel them)."""
    for group in waiting.values():
        for future in group:
            if future.done():
                continue
            if error is None:
                future.cancel()
            else:
                future.set_exception(error)


_lookups: weakref.WeakKeyDictionary[Store, _OpenTransactionLookups] = weakref.WeakKeyDictionary()


async def open_transactions(
    services: CsmsServices, charge_point_id: ChargePointId
) -> list[TransactionRecord]:
    """The charger's open transactions, oldest first, read together with other chargers'
    lookups of the next :data:`LOOKUP_DELAY_S`. Raises ``StoreError``."""
    lookups = _lookups.get(services.store)
    if lookups is None:
        lookups = _lookups[services.store] = _OpenTransactionLookups(services.store)
    return await lookups.of(charge_point_id)


def _spawn(work: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
    """Run ``work`` in the background, keeping a reference until it ends (asyncio keeps only a
    weak one); an exception nobody expected is logged with its traceback, not lost."""
    task = asyncio.get_running_loop().create_task(work, name=what)
    _background.add(task)
    task.add_done_callback(_finished)
    return task


def background_tasks() -> frozenset[asyncio.Task[Any]]:
    """The reconciliation work running now (tests wait for it; a shutdown may cancel it)."""
    return frozenset(_background)


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())


# ---- boot ------------------------------------------------------------------------------------


def on_boot(
    services: CsmsServices, state: ConnectionState, booted_at: datetime
) -> asyncio.Task[Any] | None:
    """The charger sent a BootNotification received at ``booted_at`` (already recorded): close,
    in the background, every transaction it left open (see the module docstring). A boot
    ChargeDeck asked for (TriggerMessage, csms/triggers.py) is not a reboot: nothing is closed,
    and :func:`reconcile_after_connect` asks about the open transactions instead (None)."""
    if state.boot_triggered_at is not None:
        log.info(
            "charge point %s sent the BootNotification ChargeDeck asked for: not a reboot, its "
            "open transactions are not closed",
            state.charge_point_id,
        )
        return None
    return _spawn(
        close_at_boot(services, state.charge_point_id, booted_at),
        f"reconciliation of {state.charge_point_id} at boot",
    )


async def close_at_boot(
    services: CsmsServices, charge_point_id: ChargePointId, booted_at: datetime
) -> list[TransactionRecord]:
    """Close the transactions open on the charger whose StartTransaction arrived by
    ``booted_at``; returns those this call closed."""
    closed = []
    try:
        for transaction in await open_transactions(services, charge_point_id):
            if transaction.created_at > booted_at:
                continue  # started after the boot
            if await close_with_last_reading(
                services, transaction, Reconciliation.CLOSED_AT_BOOT, ended_at=booted_at
            ):
                closed.append(transaction)
    except StoreError as exc:
        log.warning(
            "charge point %s rebooted; its open transactions stay open: store error: %s",
            charge_point_id,
            exc,
        )
    return closed


# ---- closing ---------------------------------------------------------------------------------


async def close_with_last_reading(
    services: CsmsServices,
    transaction: TransactionRecord,
    kind: Reconciliation,
    *,
    ended_at: datetime,
) -> bool:
    """Close ``transaction`` with the highest register reading stored for it, at the time of
    that reading; without one, with no meterStop at ``ended_at`` (energy unknown). False if a
    StopTransaction closed it meanwhile. Raises ``StoreError``."""
    store = services.store.transactions
    reading = await store.last_register_reading(transaction)
    meter_stop, stopped_at = (None, ended_at) if reading is None else (reading[1], reading[0])
    closed = await store.close_by_reconciliation(
        transaction,
        kind=kind,
        meter_stop=meter_stop,
        stopped_at=stopped_at,
        stop_reason=STOP_REASONS[kind],
        now=services.clock.now(),
    )
    if closed:
        services.load_control.on_transaction_stopped(transaction.charge_point_id, transaction.id)
        log.warning(
            "charge point %s: transaction %d (connector %d, id tag %s) closed by ChargeDeck "
            "(%s) with %s",
            transaction.charge_point_id,
            transaction.id,
            transaction.connector_id,
            transaction.id_tag,
            kind.value,
            "no reading after meterStart: its energy is unknown"
            if reading is None
            else f"its last reading, {reading[1]} Wh at {reading[0].isoformat()}",
        )
    return closed


# ---- Available with a transaction open ------------------------------------------------------


def on_connector_available(
    services: CsmsServices,
    state: ConnectionState,
    connector_id: ConnectorId,
    reported_at: datetime,
) -> asyncio.Task[Any]:
    """The connector reported Available at ``reported_at`` (the charger's timestamp, else when
    it arrived): in the background, close a transaction left open on it after the grace
    period (see the module docstring)."""
    return _spawn(
        close_if_left_open(services, state.charge_point_id, connector_id, reported_at),
        f"check of {state.charge_point_id} connector {connector_id} reported Available",
    )


async def close_if_left_open(
    services: CsmsServices,
    charge_point_id: ChargePointId,
    connector_id: ConnectorId,
    reported_at: datetime,
    *,
    grace_s: float = AVAILABLE_GRACE_S,
) -> bool:
    """If a transaction is open on the connector that reported Available at ``reported_at``,
    wait ``grace_s``; then close it if it is still open and the connector still Available (or a
    newer transaction started there). An Available stamped before the transaction started (a
    status queued while offline) says nothing about it. True if it closed one."""
    transactions = services.store.transactions
    try:
        open_now = _newest_on(await open_transactions(services, charge_point_id), connector_id)
        if open_now is None or reported_at < open_now.started_at:
            return False
        await asyncio.sleep(grace_s)
        current = await transactions.get_transaction(open_now.id)
        if current is None or not current.active:
            return False
        newest = await transactions.active_transaction_for_connector(charge_point_id, connector_id)
        status = await _connector_status(services, charge_point_id, connector_id)
        if status is not ChargePointStatus.AVAILABLE and (
            newest is None or newest.id == current.id
        ):
            return False
        return await close_with_last_reading(
            services, current, Reconciliation.CLOSED_WHEN_AVAILABLE, ended_at=reported_at
        )
    except StoreError as exc:
        log.warning(
            "charge point %s connector %d reported Available; its open transaction could not "
            "be checked: store error: %s",
            charge_point_id,
            connector_id,
            exc,
        )
        return False


def _newest_on(
    transactions: list[TransactionRecord], connector_id: int
) -> TransactionRecord | None:
    on_connector = [t for t in transactions if t.connector_id == connector_id]
    return max(on_connector, key=lambda t: t.id, default=None)


async def _connector_status(
    services: CsmsServices, charge_point_id: ChargePointId, connector_id: int
) -> ChargePointStatus | None:
    record = await _connector_record(services, charge_point_id, connector_id)
    return None if record is None else _status(record[0])


async def _connector_record(
    services: CsmsServices, charge_point_id: ChargePointId, connector_id: int
) -> tuple[str, datetime] | None:
    """The connector's latest status and when it arrived."""
    for connector in await services.store.connectors.list_connectors(charge_point_id):
        if connector.connector_id == connector_id:
            return connector.status, connector.updated_at
    return None


def _status(text: str) -> ChargePointStatus | None:
    try:
        return ChargePointStatus(text)
    except ValueError:
        return None


# ---- reconnect without a boot ---------------------------------------------------------------


def on_connected(services: CsmsServices, state: ConnectionState) -> asyncio.TimerHandle:
    """A charger's connection just opened (called by the WebSocket edge). Returns at once: after
    :data:`RECONNECT_BOOT_WAIT_S`, :func:`reconcile_after_connect` checks its open transactions.

    A timer, not a task sleeping: 5,000 chargers reconnecting at once would otherwise hold 5,000
    coroutine frames for the whole wait (~1.5 KB each, bench idle phase)."""
    return asyncio.get_running_loop().call_later(
        RECONNECT_BOOT_WAIT_S,
        lambda: _spawn(
            reconcile_after_connect(services, state, boot_wait_s=0),
            f"reconciliation of {state.charge_point_id} after connecting",
        ),
    )


async def reconcile_after_connect(
    services: CsmsServices,
    state: ConnectionState,
    *,
    boot_wait_s: float = RECONNECT_BOOT_WAIT_S,
    answer_wait_s: float = TRIGGER_ANSWER_WAIT_S,
) -> None:
    """Wait ``boot_wait_s`` for a BootNotification (then :func:`on_boot` has it in hand); if
    none came, or only the one ChargeDeck asked for (csms/triggers.py triggers it after
    ``BOOT_TRIGGER_DELAY_S`` = 5 s, before this 10 s wait ends, because nothing else may be sent
    before the boot is answered), and the charger is registered and still on this connection,
    ask it about each transaction open on it (see the module docstring)."""
    await asyncio.sleep(boot_wait_s)
    charge_point_id = state.charge_point_id
    link = services.stations.get(charge_point_id)
    if (
        (state.boot_status is not None and state.boot_triggered_at is None)
        or state.registration is not Registration.REGISTERED
        or link is None
        or link.state is not state
    ):
        return
    try:
        still_open = await open_transactions(services, charge_point_id)
        if not still_open:
            return
        log.info(
            "charge point %s reconnected without a BootNotification with %d open "
            "transaction(s): asking it with TriggerMessage whether they still run",
            charge_point_id,
            len(still_open),
        )
        for transaction in still_open:
            await _reconcile_open_transaction(services, transaction, answer_wait_s)
    except StoreError as exc:
        log.warning(
            "charge point %s reconnected; its open transactions could not be checked: store "
            "error: %s",
            charge_point_id,
            exc,
        )
    except (CommandError, ChargePointDisconnected) as exc:
        log.warning(
            "charge point %s reconnected; its open transactions stay open: %s",
            charge_point_id,
            exc,
        )


async def _trigger(
    services: CsmsServices, transaction: TransactionRecord, message: MessageTrigger
) -> bool:
    """Ask for ``message`` about the transaction's connector; True if the charger accepted."""
    request = TriggerMessageRequest(
        requested_message=message, connector_id=transaction.connector_id
    )
    try:
        answer = await send_command(services, transaction.charge_point_id, request)
    except (CallErrorReceived, CallTimeout, InvalidResponse) as exc:
        log.warning(
            "charge point %s: TriggerMessage(%s) for connector %d failed: %s",
            transaction.charge_point_id,
            message.value,
            transaction.connector_id,
            exc,
        )
        return False
    assert isinstance(answer, TriggerMessageResponse)
    if answer.status is not TriggerMessageStatus.ACCEPTED:
        log.warning(
            "charge point %s answered TriggerMessage(%s) for connector %d with %s",
            transaction.charge_point_id,
            message.value,
            transaction.connector_id,
            answer.status.value,
        )
        return False
    return True


async def _reconcile_open_transaction(
    services: CsmsServices, transaction: TransactionRecord, answer_wait_s: float
) -> None:
    charge_point_id, connector_id = transaction.charge_point_id, transaction.connector_id
    asked_at = services.clock.now()
    if not await _trigger(services, transaction, MessageTrigger.STATUS_NOTIFICATION):
        log.warning(
            "charge point %s: transaction %d stays open (the charger did not report connector "
            "%d's status); its StopTransaction or a later boot will close it",
            charge_point_id,
            transaction.id,
            connector_id,
        )
        return
    await _trigger(services, transaction, MessageTrigger.METER_VALUES)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + answer_wait_s
    status: ChargePointStatus | None = None
    while True:
        record = await _connector_record(services, charge_point_id, connector_id)
        if record is not None and record[1] >= asked_at:
            status = _status(record[0])
        if status in NO_SESSION:
            await close_with_last_reading(
                services,
                transaction,
                Reconciliation.CLOSED_AT_RECONNECT,
                ended_at=services.clock.now(),
            )
            return
        if status in CHARGING and await services.store.transactions.meter_values_received_since(
            transaction, asked_at
        ):
            if await services.store.transactions.mark_recovered(transaction, services.clock.now()):
                log.info(
                    "charge point %s still runs transaction %d on connector %d (%s, MeterValues "
                    "with its id): kept open, recovered",
                    charge_point_id,
                    transaction.id,
                    connector_id,
                    status.value if status is not None else "?",
                )
            return
        if loop.time() >= deadline:
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    log.warning(
        "charge point %s: transaction %d stays open: connector %d reported %s%s within %.0f s; "
        "its StopTransaction or a later boot will close it",
        charge_point_id,
        transaction.id,
        connector_id,
        "no status" if status is None else status.value,
        " without MeterValues for it" if status in CHARGING else "",
        answer_wait_s,
    )
