"""Load control: keeps every connector's current limit where the site, the operator, the mode and
the charger model put it, and says why (DESIGN §7, docs/smart-charging.md).

Event-driven: the OCPP handlers, the API and the MQTT input call the ``on_*`` / ``*_changed`` /
``receive_reading`` methods, which only note what happened and schedule one debounced
recomputation per site (``load_control_debounce_s``); the work runs in the background and never
delays an answer to a charger. Inert until :meth:`LoadControl.start` (the in-memory test pairs
never start it).

What goes to a charger:

* **Fail-safe** (at every accepted boot, and whenever the site changes): a TxDefaultProfile on
  connector 0 holding each connector at its safe share of the site (domain/load_management
  ``safe_limits``), capped by the operator's limit; an unplaced charger with an operator limit
  gets that limit. Without ChargeDeck the charger keeps this, so an outage never trips the fuse.
* **Dynamic limit** (while a transaction runs): a TxProfile for the transaction with the limit
  load control allocated. A limit above the safe share is *leased*: its schedule ends
  ``limit_lease_s`` after it was sent and is renewed while ChargeDeck runs, so a lost ChargeDeck
  leaves every charger on its fail-safe within that time.
* A new limit is sent only when it differs from the one in force by ``limit_dead_band_a`` or
  more, pauses or resumes the connector, or lowers it (a lower limit is a safety matter and is
  never held back); raises and renewals wait for the charger model's least interval between
  profiles (flash wear, domain/charger_models ``min_profile_interval_s``). Lowered limits go out
  before raised ones.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from chargedeck.csms.events import AlertCleared, AlertRaised, LimitChanged
from chargedeck.domain.charger_models import ChargerModel, SmartChargingQuirks, model_for
from chargedeck.domain.charging_modes import (
    ChargingMode,
    GridReading,
    ModeSettings,
    ModeState,
    SolarReading,
)
from chargedeck.domain.charging_profiles import RateUnit, amps_for, build_limit_profile
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.limit_updates import LimitUpdate, earliest_send, limit_update
from chargedeck.domain.load_management import (
    CircuitNode,
    ConnectorAllocation,
    ConnectorDemand,
    ConnectorKey,
    Strategy,
)
from chargedeck.domain.meter_values import currents_from_samples
from chargedeck.domain.site_plan import SiteConnector, plan_site
from chargedeck.store.errors import NotFound

if TYPE_CHECKING:
    from chargedeck.csms.context import ConnectionState, CsmsServices
    from chargedeck.ocpp.v16.types import MeterValue
    from chargedeck.store.sites import ChargerLimitRecord, SiteLayout

log = logging.getLogger(__name__)

# Connector statuses in which a car with an open transaction may draw current (OCPP 1.6 §4.9):
# SuspendedEVSE is the status a connector paused by load control reports, so it must stay in.
_DRAWING_STATUSES = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE", "Preparing"})

_ROTATIONS: dict[str, tuple[int, ...]] = {
    "L1L2L3": (0, 1, 2),
    "L2L3L1": (1, 2, 0),
    "L3L1L2": (2, 0, 1),
    "L1": (0,),
    "L2": (1,),
    "L3": (2,),
}
"""Placement phase wiring -> grid phase indexes, one per charger phase."""

# Keys read from the charger's stored configuration (OCPP 1.6 §9.4; field notes §2.1, Q7).
_KEY_RATE_UNITS = "ChargingScheduleAllowedChargingRateUnit"
_KEY_MAX_STACK_LEVEL = "ChargeProfileMaxStackLevel"
_KEY_WALLBOX_CEILING = "chargingALimitConn1"
_KEY_CONNECTORS = "NumberOfConnectors"
_KEY_MAX_PROFILES = "MaxChargingProfilesInstalled"

_PHASE_IN_USE_A = 1.0
"""A phase carrying at least this much current is in use (a car's idle draw is well below)."""

STORE_WATCH_INTERVAL_S = 30.0
"""How often the managed chargers are read again (a placement made with the CLI while the server
runs takes effect within this time)."""

Scope = int | str
"""What one recomputation covers: a site id, or the id of a charger placed on no site."""


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


@dataclass(frozen=True)
class ConnectorLoad:
    """What one connector of a placed charger takes from its circuit now (the site load view of
    the API and UI): read-only, from what load control already keeps in memory."""

    connector_id: int
    circuit_id: int | None
    grid_phases: tuple[int, ...]
    """Grid phase index (0 = L1) of each charger phase, from the placement's phase rotation."""
    active: bool
    limit_a: float | None
    """Amps per phase given to the connector (0 = paused); None while it is not active."""
    import_a: tuple[float, ...]
    """Latest Current.Import per charger phase while active (one figure: the same on every
    phase); empty when the connector is not active."""


@dataclass(slots=True)
class _Connector:
    """What load control knows and decided about one connector."""

    status: str | None = None
    transaction_id: int | None = None
    started_at: datetime | None = None
    import_a: tuple[float, ...] = ()
    offered_a: float | None = None
    over_since: datetime | None = None
    alert_raised: bool = False
    paused_since: datetime | None = None
    charging_since: datetime | None = None
    mode_state: ModeState | None = None
    limit_a: float | None = None
    safe_limit_a: float | None = None
    steps: tuple[str, ...] = ()
    sent_limit_a: float | None = None
    sent_at: datetime | None = None
    lease_until: datetime | None = None
    profile_status: str | None = None

    @property
    def measured_a(self) -> float | None:
        return max(self.import_a) if self.import_a else None

    def active(self) -> bool:
        """A car is plugged in and may draw: an open transaction, or Preparing (plugged in,
        not started yet: its share is set aside before it starts, so the others are lowered
        before it draws)."""
        if self.status == "Preparing":
            return True
        return self.transaction_id is not None and (
            self.status is None or self.status in _DRAWING_STATUSES
        )


@dataclass(slots=True)
class _Charger:
    """What load control knows about one charger: its model, placement and connectors."""

    charge_point_id: ChargePointId
    connected: bool = False
    booted: bool = False
    loaded: bool = False
    scope: Scope | None = None
    grid_phases: tuple[int, ...] = (0, 1, 2)
    circuit_id: int | None = None
    model: ChargerModel = field(default_factory=lambda: model_for("", ""))
    quirks: SmartChargingQuirks | None = None
    rate_unit: RateUnit = "A"
    max_stack_level: int | None = None
    ceiling_a: float | None = None
    single_profile: bool = False
    """It holds one profile only (MaxChargingProfilesInstalled = 1, some Wallbox firmware, field
    notes §2.1): the limit of a transaction then replaces the fail-safe TxDefaultProfile (same
    id), unleased, and the fail-safe is sent again when the transaction ends."""
    phases_in_use: int | None = None
    """How many phases the car draws on, from per-phase Current.Import (a single-phase car on
    a three-phase charger): kW limits and W profiles are converted with it."""
    connector_count: int = 1
    connectors: dict[int, _Connector] = field(default_factory=dict)
    last_profile_at: datetime | None = None
    fail_safe_a: float | None = None
    fail_safe_steps: tuple[str, ...] = ()
    fail_safe_status: str | None = None
    fail_safe_sent_at: datetime | None = None

    def connector(self, connector_id: int) -> _Connector:
        found = self.connectors.get(connector_id)
        if found is None:
            found = self.connectors[connector_id] = _Connector()
        return found

    def connector_ids(self) -> list[int]:
        known = {cid for cid in self.connectors if cid > 0}
        known.update(range(1, self.connector_count + 1))
        return sorted(known)


class LoadChange(msgspec.Struct, frozen=True, kw_only=True):
    """An operator's change load control acts on, as it travels to the other nodes of a
    cluster: a site, circuit or placement (``site``, ``site_id`` None for any), a charger's
    operator limit, placement or mode (``charger``), a grid or solar reading (``reading``)."""

    kind: Literal["site", "charger", "reading"]
    site_id: int | None = None
    charge_point_id: str | None = None


@dataclass(frozen=True)
class _Send:
    """One limit profile to send to one connector."""

    charger: _Charger
    connector_id: int
    update: LimitUpdate


class LoadControl:
    """The one place limits are decided and sent."""

    def __init__(self) -> None:
        self._services: CsmsServices | None = None
        self._chargers: dict[ChargePointId, _Charger] = {}
        self._timers: dict[Scope, asyncio.TimerHandle] = {}
        self._locks: dict[Scope, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._alert_tasks: set[asyncio.Task[None]] = set()
        self._safe_limits: dict[int, tuple[object, dict[ConnectorKey, ConnectorAllocation]]] = {}
        self._managed: frozenset[str] | None = None
        """Chargers placed on a site or given an operator limit: events of the others cost
        nothing (a 50,000-charger CSMS without sites must not pay for load control). None
        until first read: everyone counts meanwhile."""
        self.computes: Callable[[Scope], bool] | None = None
        """In a cluster (server/cluster.py): whether this node computes and sends for a scope
        (a site: it holds the site's lease; an unplaced charger: it holds its connection).
        None: one node computes everything."""
        self.tell_other_nodes: Callable[[LoadChange], None] | None = None
        """In a cluster: hands an operator's change (site, placement, limit, reading) to the
        other nodes, which apply it with :meth:`receive_change`."""

    def start(self, services: CsmsServices) -> None:
        """Begin: from now on events are acted on."""
        self._services = services
        self._spawn(self._watch_store())

    async def _watch_store(self) -> None:
        """Read which chargers are managed now and every ``STORE_WATCH_INTERVAL_S``: the CLI
        writes sites and placements to the store directly, with no word to a running server."""
        while self._services is not None:
            await self._refresh_managed()
            await asyncio.sleep(STORE_WATCH_INTERVAL_S)

    async def _refresh_managed(self) -> None:
        services = self._services
        if services is None:
            return
        before = self._managed
        self._managed = frozenset(await services.store.sites.managed_charge_point_ids())
        if before is None:
            return
        # Newly placed or limited ones start; those that left clear what load control sent.
        for charge_point_id in self._managed ^ before:
            charger = self._charger(ChargePointId(charge_point_id))
            charger.loaded = False
            await self._reload_and_schedule(charger)

    def _manages(self, charge_point_id: str) -> bool:
        return self._services is not None and (
            self._managed is None or charge_point_id in self._managed
        )

    async def close(self) -> None:
        """Stop the background work (pending recomputations are dropped)."""
        self._services = None
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks | self._alert_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- events from the OCPP handlers ---------------------------------------------------------

    def on_boot(self, state: ConnectionState) -> None:
        """A charger's boot was accepted: what it knew is gone (field notes Q3: treat every boot
        as a reboot), so its fail-safe TxDefaultProfile is sent again."""
        if not self._manages(state.charge_point_id) or state.boot_status != "Accepted":
            return
        charger = self._charger(state.charge_point_id)
        charger.connected = True
        charger.booted = True
        charger.loaded = False
        charger.fail_safe_a = None
        charger.fail_safe_status = None
        for connector in charger.connectors.values():
            connector.sent_limit_a = None
            connector.lease_until = None
        self._spawn(self._reload_and_schedule(charger))

    def on_disconnected(self, charge_point_id: str) -> None:
        """A charger's connection ended: its connectors keep what they had (it may charge on)."""
        charger = self._chargers.get(ChargePointId(charge_point_id))
        if self._services is None or charger is None:
            return
        charger.connected = False
        charger.booted = False
        if charger.scope is not None:
            self._schedule(charger.scope)

    def on_status(self, charge_point_id: str, connector_id: int, status: str) -> None:
        """StatusNotification: a car arrived, left, started or stopped drawing."""
        if connector_id <= 0 or not self._manages(charge_point_id):
            return
        charger = self._charger(ChargePointId(charge_point_id))
        connector = charger.connector(connector_id)
        was_active = connector.active()
        connector.status = status
        if status == "Available":
            connector.import_a = ()
        if connector.active() != was_active:
            self._schedule_charger(charger)

    def on_transaction_started(
        self, charge_point_id: str, connector_id: int, transaction_id: int, started_at: datetime
    ) -> None:
        """StartTransaction accepted and recorded."""
        if self._services is None or not self._manages(charge_point_id):
            return
        charger = self._charger(ChargePointId(charge_point_id))
        connector = charger.connector(connector_id)
        connector.transaction_id = transaction_id
        connector.started_at = started_at
        connector.sent_limit_a = None
        connector.lease_until = None
        connector.mode_state = None
        connector.charging_since = self._services.clock.now()
        connector.paused_since = None
        self._schedule_charger(charger)

    def on_transaction_stopped(self, charge_point_id: str, transaction_id: int) -> None:
        """StopTransaction (or reconciliation) closed a transaction: its TxProfile is gone with
        it (OCPP 1.6 §3.13.2), and its current is free for the others."""
        charger = self._chargers.get(ChargePointId(charge_point_id))
        if self._services is None or charger is None:
            return
        for connector in charger.connectors.values():
            if connector.transaction_id == transaction_id:
                connector.transaction_id = None
                connector.started_at = None
                connector.sent_limit_a = None
                connector.lease_until = None
                connector.limit_a = None
                connector.steps = ()
                connector.paused_since = None
                connector.charging_since = None
                connector.over_since = None
                connector.mode_state = None
                self._schedule_charger(charger)

    def on_meter_values(
        self, charge_point_id: str, connector_id: int, meter_values: Sequence[MeterValue]
    ) -> None:
        """Current.Import per phase (and Current.Offered) from a MeterValues' latest element:
        kept for the household and surplus figures, and checked against the limit in force."""
        services = self._services
        if connector_id <= 0 or not meter_values or not self._manages(charge_point_id):
            return
        assert services is not None
        charger = self._charger(ChargePointId(charge_point_id))
        latest = max(meter_values, key=lambda meter_value: meter_value.timestamp)
        current_import_a, current_offered_a = currents_from_samples(
            [
                (
                    sample.measurand.value if sample.measurand is not None else None,
                    sample.unit.value if sample.unit is not None else None,
                    sample.phase.value if sample.phase is not None else None,
                    sample.value,
                )
                for sample in latest.sampled_value
            ],
            voltage_v=services.settings.nominal_voltage_v,
            phases_wired=len(charger.grid_phases),
        )
        self._take_currents(
            charger, connector_id, current_import_a, current_offered_a, latest.timestamp
        )

    def on_currents(
        self,
        charge_point_id: str,
        connector_id: int,
        import_a: tuple[float, ...],
        offered_a: float | None,
        at: datetime,
        *,
        power_w: float | None = None,
    ) -> None:
        """What :meth:`on_meter_values` reads from a MeterValues, already in amps: the cluster
        feeds the lease holder of a site with the meter values of chargers on other nodes this
        way (server/cluster.py, from the relayed MeterValuesReceived event). ``import_a`` is
        Current.Import per phase (one figure: the same on every phase), ``offered_a``
        Current.Offered, ``at`` the sample's time; without any Current.Import, ``power_w``
        (Power.Active.Import) counts as amps over the phases wired at the nominal voltage, as
        ``currents_from_samples`` does for a local charger."""
        services = self._services
        if connector_id <= 0 or not self._manages(charge_point_id):
            return
        assert services is not None
        charger = self._charger(ChargePointId(charge_point_id))
        if not import_a and power_w is not None:
            voltage_v = services.settings.nominal_voltage_v
            import_a = (power_w / (voltage_v * len(charger.grid_phases)),)
        self._take_currents(charger, connector_id, import_a, offered_a, at)

    def _take_currents(
        self,
        charger: _Charger,
        connector_id: int,
        current_import_a: tuple[float, ...],
        current_offered_a: float | None,
        at: datetime,
    ) -> None:
        connector = charger.connector(connector_id)
        if current_offered_a is not None:
            connector.offered_a = current_offered_a
        if not current_import_a:
            return
        connector.import_a = current_import_a
        if len(current_import_a) > 1 and max(current_import_a) >= _PHASE_IN_USE_A:
            in_use = sum(1 for amps in current_import_a if amps >= _PHASE_IN_USE_A)
            if in_use != charger.phases_in_use:
                # A kW limit means other amps now (and W profiles other numbers).
                charger.phases_in_use = in_use
                self._schedule_charger(charger)
        self._check_honoured(charger, connector_id, connector, at)

    # ---- operator and inputs ----------------------------------------------------------------

    def site_changed(self, site_id: int | None, *, tell_other_nodes: bool = True) -> None:
        """A site, circuit or placement changed (None: any, e.g. a site was deleted)."""
        if self._services is None:
            return
        self._spawn(self._site_changed(site_id))
        if tell_other_nodes and self.tell_other_nodes is not None:
            self.tell_other_nodes(LoadChange(kind="site", site_id=site_id))

    async def _site_changed(self, site_id: int | None) -> None:
        await self._refresh_managed()
        if site_id is not None:
            self._schedule(site_id)
        for charger in list(self._chargers.values()):
            if site_id is None or charger.scope == site_id:
                charger.loaded = False
                await self._reload_and_schedule(charger)

    def charger_changed(self, charge_point_id: str) -> None:
        """A charger's operator limit, placement or a session's mode changed."""
        if self._services is None:
            return
        self._spawn(self._charger_changed(ChargePointId(charge_point_id)))
        if self.tell_other_nodes is not None:
            self.tell_other_nodes(LoadChange(kind="charger", charge_point_id=charge_point_id))

    def receive_change(self, change: LoadChange) -> None:
        """What another cluster node's operator (API, MQTT) changed: acted on as if made here,
        so the node computing the site or charger sees it at once, not at its next store read
        (``STORE_WATCH_INTERVAL_S``)."""
        if self._services is None:
            return
        if change.kind == "site":
            self._spawn(self._site_changed(change.site_id))
        elif change.kind == "charger" and change.charge_point_id is not None:
            self._spawn(self._charger_changed(ChargePointId(change.charge_point_id)))
        elif change.kind == "reading" and change.site_id is not None:
            self._schedule(change.site_id)

    async def _charger_changed(self, charge_point_id: ChargePointId) -> None:
        await self._refresh_managed()
        charger = self._charger(charge_point_id)
        charger.loaded = False
        await self._reload_and_schedule(charger)

    async def receive_reading(
        self, site_id: int, reading: GridReading | SolarReading, source: str
    ) -> None:
        """A grid meter or solar reading from the API or MQTT: stored, then acted on. Raises
        the store's ``NotFound`` for an unknown site."""
        services = self._services
        if services is None:
            return
        from chargedeck.store.sites import SiteReadingRecord

        now = services.clock.now()
        if isinstance(reading, GridReading):
            l1, l2, l3 = reading.amps
            record = SiteReadingRecord(
                site_id=site_id,
                kind="grid",
                l1_a=l1,
                l2_a=l2,
                l3_a=l3,
                power_w=None,
                source=source,
                measured_at=reading.measured_at,
                received_at=now,
            )
        else:
            record = SiteReadingRecord(
                site_id=site_id,
                kind="solar",
                l1_a=None,
                l2_a=None,
                l3_a=None,
                power_w=reading.power_w,
                source=source,
                measured_at=reading.measured_at,
                received_at=now,
            )
        await services.store.sites.save_reading(record)
        self._schedule(site_id)
        if self.tell_other_nodes is not None:
            self.tell_other_nodes(LoadChange(kind="reading", site_id=site_id))

    def effective_limits(self, charge_point_id: str) -> list[EffectiveLimit]:
        """The limit in force on each connector of a charger, with its explanation."""
        charger = self._chargers.get(ChargePointId(charge_point_id))
        if charger is None:
            return []
        limits = []
        for connector_id in charger.connector_ids():
            connector = charger.connector(connector_id)
            in_force = connector.limit_a if connector.active() else charger.fail_safe_a
            steps = connector.steps if connector.active() else charger.fail_safe_steps
            limits.append(
                EffectiveLimit(
                    charge_point_id=charger.charge_point_id,
                    connector_id=connector_id,
                    limit_a=in_force,
                    safe_limit_a=charger.fail_safe_a,
                    steps=(*steps, *self._charger_side(charger, connector)),
                    profile_status=(
                        connector.profile_status if connector.active() else charger.fail_safe_status
                    ),
                    sent_at=connector.sent_at,
                    offered_a=connector.offered_a,
                    measured_a=connector.measured_a,
                )
            )
        return limits

    def connector_loads(self, charge_point_id: str) -> list[ConnectorLoad]:
        """Each connector's circuit, phases, limit and latest draw; empty for a charger load
        control does not know (never connected since start)."""
        charger = self._chargers.get(ChargePointId(charge_point_id))
        if charger is None:
            return []
        loads = []
        for connector_id in charger.connector_ids():
            connector = charger.connector(connector_id)
            active = connector.active()
            loads.append(
                ConnectorLoad(
                    connector_id=connector_id,
                    circuit_id=charger.circuit_id,
                    grid_phases=charger.grid_phases,
                    active=active,
                    limit_a=connector.limit_a if active else None,
                    # The last reading of a stopped session is no draw any more.
                    import_a=connector.import_a if active else (),
                )
            )
        return loads

    # ---- scheduling ---------------------------------------------------------------------------

    def _charger(self, charge_point_id: ChargePointId) -> _Charger:
        charger = self._chargers.get(charge_point_id)
        if charger is None:
            charger = self._chargers[charge_point_id] = _Charger(charge_point_id)
            link = self._services.stations.get(charge_point_id) if self._services else None
            charger.connected = link is not None
            charger.booted = link is not None and link.state.boot_status == "Accepted"
        return charger

    def _spawn(
        self, work: Coroutine[Any, Any, None], tasks: set[asyncio.Task[None]] | None = None
    ) -> None:
        bucket = self._tasks if tasks is None else tasks
        task = asyncio.get_running_loop().create_task(work)
        bucket.add(task)
        task.add_done_callback(bucket.discard)

    def _schedule_charger(self, charger: _Charger) -> None:
        if charger.loaded and charger.scope is not None:
            self._schedule(charger.scope)
        else:
            self._spawn(self._reload_and_schedule(charger))

    def _schedule(self, scope: Scope, delay_s: float | None = None) -> None:
        """One recomputation of ``scope`` after the debounce (or ``delay_s``), however many
        events ask for it meanwhile."""
        services = self._services
        if services is None:
            return
        wait = services.settings.load_control_debounce_s if delay_s is None else delay_s
        loop = asyncio.get_running_loop()
        pending = self._timers.get(scope)
        if pending is not None:
            if pending.when() <= loop.time() + wait:
                return
            pending.cancel()
        self._timers[scope] = loop.call_later(wait, self._fire, scope)

    def _fire(self, scope: Scope) -> None:
        self._timers.pop(scope, None)
        self._spawn(self._recompute_guarded(scope))

    async def _reload_and_schedule(self, charger: _Charger) -> None:
        previous = charger.scope
        await self._load(charger)
        if previous is not None and previous != charger.scope:
            self._schedule(previous)
        if charger.scope is not None:
            self._schedule(charger.scope)

    async def _recompute_guarded(self, scope: Scope) -> None:
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            try:
                await self._recompute(scope)
            except asyncio.CancelledError:
                raise
            except NotFound as exc:  # the site was deleted after the recompute was scheduled
                log.info(
                    "load control: %s is gone, nothing to recompute (%s)", _scope_text(scope), exc
                )
            except Exception:  # a background task: log with the trace, keep running
                log.exception("load control: recomputing %s failed", _scope_text(scope))

    # ---- loading ------------------------------------------------------------------------------

    async def _load(self, charger: _Charger) -> None:
        """Read the charger's model, placement, configuration and open transactions."""
        services = self._services
        if services is None:
            return
        store = services.store
        cp_id = charger.charge_point_id
        record = await store.charge_points.get_charge_point(cp_id)
        if record is None:
            charger.scope = None
            return
        charger.model = model_for(record.vendor or "", record.model or "")
        charger.quirks = charger.model.smart_charging_for(record.firmware_version)
        placement = await store.sites.placement_of(cp_id)
        if placement is None:
            charger.scope = cp_id
            charger.circuit_id = None
            charger.grid_phases = (0, 1, 2)
        else:
            placed, site_id = placement
            charger.scope = site_id
            charger.circuit_id = placed.circuit_id
            charger.grid_phases = _ROTATIONS.get(placed.phase_rotation, (0, 1, 2))
        keys = await store.configuration.values(
            cp_id,
            (
                _KEY_RATE_UNITS,
                _KEY_MAX_STACK_LEVEL,
                _KEY_WALLBOX_CEILING,
                _KEY_CONNECTORS,
                _KEY_MAX_PROFILES,
            ),
        )
        charger.single_profile = _int_or_none(keys.get(_KEY_MAX_PROFILES)) == 1
        units = (keys.get(_KEY_RATE_UNITS) or "").replace(" ", "").split(",")
        charger.rate_unit = "W" if units == ["Power"] else "A"
        charger.max_stack_level = _int_or_none(keys.get(_KEY_MAX_STACK_LEVEL))
        charger.ceiling_a = _positive_or_none(keys.get(_KEY_WALLBOX_CEILING))
        charger.connector_count = max(1, _int_or_none(keys.get(_KEY_CONNECTORS)) or 1)
        for known in await store.connectors.list_connectors(cp_id):
            if known.connector_id > 0:
                connector = charger.connector(known.connector_id)
                if connector.status is None:
                    connector.status = known.status
        for transaction in await store.transactions.open_transactions(cp_id):
            connector = charger.connector(transaction.connector_id)
            if connector.transaction_id is None:
                connector.transaction_id = transaction.id
                connector.started_at = transaction.started_at
                connector.charging_since = transaction.started_at
        link = services.stations.get(cp_id)
        charger.connected = link is not None
        charger.booted = link is not None and link.state.boot_status == "Accepted"
        charger.loaded = True

    # ---- recomputation ------------------------------------------------------------------------

    async def _recompute(self, scope: Scope) -> None:
        services = self._services
        if services is None or (self.computes is not None and not self.computes(scope)):
            return
        if isinstance(scope, str):
            charger = self._chargers.get(ChargePointId(scope))
            if charger is not None:
                await self._recompute_unplaced(charger)
            return
        layout = await services.store.sites.layout(scope)
        placed = {placement.charge_point_id for placement in layout.placements}
        chargers: list[_Charger] = []
        for cp_id in sorted(placed):
            charger = self._charger(cp_id)
            if not charger.loaded or charger.scope != scope:
                await self._load(charger)
            if charger.scope == scope:
                chargers.append(charger)
        await self._recompute_site(layout, chargers)

    async def _recompute_unplaced(self, charger: _Charger) -> None:
        """A charger on no site: only the operator's limit, as its TxDefaultProfile."""
        services = self._services
        assert services is not None
        limit = await services.store.sites.charger_limit(charger.charge_point_id)
        if limit is None:
            # Neither a site nor an operator limit: what load control put on the charger goes.
            charger.fail_safe_steps = ()
            for connector in charger.connectors.values():
                connector.limit_a = None
                connector.steps = ()
            await self._clear_own_profiles(charger)
            return
        phases = charger.phases_in_use or len(charger.grid_phases)
        amps, steps = self._operator_cap(charger, limit.value, limit.unit, phases)
        if amps > charger.model.max_current_a:
            amps = float(charger.model.max_current_a)
            steps = (*steps, f"model maximum {charger.model.max_current_a} A")
        amps = _round_down(amps, charger.model)
        steps = (*steps, f"{_step_words(charger.model)} -> {_fmt(amps)} A")
        await self._send_fail_safe(charger, amps, steps)
        for connector in charger.connectors.values():
            connector.limit_a = amps if connector.active() else None
            connector.steps = steps if connector.active() else ()

    async def _clear_own_profiles(self, charger: _Charger) -> None:
        """Clear the fail-safe and dynamic profiles load control sent to ``charger`` (it left its
        site and has no operator limit): it charges as it would without ChargeDeck's limits."""
        services = self._services
        assert services is not None
        from chargedeck.csms.charging_profiles import (
            FAIL_SAFE_PROFILE_ID,
            clear_charging_profile,
            load_control_profile_id,
        )
        from chargedeck.csms.commands import CommandError
        from chargedeck.csms.stations import ChargePointDisconnected
        from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse

        profile_ids = [FAIL_SAFE_PROFILE_ID] if charger.fail_safe_a is not None else []
        profile_ids += [
            load_control_profile_id(connector_id)
            for connector_id, connector in charger.connectors.items()
            if connector.sent_limit_a is not None
        ]
        if not (charger.connected and charger.booted):
            return
        for profile_id in profile_ids:
            try:
                await clear_charging_profile(
                    services, charger.charge_point_id, charging_profile_id=profile_id
                )
            except (
                CommandError,
                ChargePointDisconnected,
                CallErrorReceived,
                CallTimeout,
                InvalidResponse,
            ) as exc:
                log.warning(
                    "charge point %s: clearing load control's profile %d failed: %s",
                    charger.charge_point_id,
                    profile_id,
                    exc,
                )
                return
        charger.fail_safe_a = None
        charger.fail_safe_status = None
        for connector in charger.connectors.values():
            connector.sent_limit_a = None
            connector.lease_until = None
        if profile_ids:
            log.info(
                "charge point %s: on no site and without an operator limit: load control's "
                "profiles cleared",
                charger.charge_point_id,
            )

    async def _recompute_site(self, layout: SiteLayout, chargers: list[_Charger]) -> None:
        services = self._services
        assert services is not None
        settings = services.settings
        now = services.clock.now()
        site = layout.site
        circuits = [
            CircuitNode(
                circuit_id=circuit.id,
                name=circuit.name,
                parent_id=circuit.parent_id,
                limit_a=(circuit.limit_l1_a, circuit.limit_l2_a, circuit.limit_l3_a),
            )
            for circuit in layout.circuits
        ]
        mode_settings = ModeSettings(
            nominal_voltage_v=settings.nominal_voltage_v,
            solar_start_delay_s=settings.solar_start_delay_s,
            solar_stop_delay_s=settings.solar_stop_delay_s,
            min_charging_time_s=settings.min_charging_time_s,
            meter_stale_after_s=float(site.meter_stale_after_s),
            household_reserve_a=site.household_reserve_a,
        )
        placements = {p.charge_point_id: p for p in layout.placements}
        operator_limits = {limit.charge_point_id: limit for limit in layout.limits}
        open_transactions = [
            connector.transaction_id
            for charger in chargers
            for connector in charger.connectors.values()
            if connector.transaction_id is not None
        ]
        session_modes = await services.store.sites.transaction_modes(open_transactions)

        site_connectors: list[SiteConnector] = []
        known: dict[ConnectorKey, tuple[_Charger, _Connector]] = {}
        for charger in chargers:
            placement = placements.get(charger.charge_point_id)
            if charger.circuit_id is None or placement is None:
                continue
            cap_a, cap_reason = self._connector_cap(
                charger, operator_limits.get(charger.charge_point_id)
            )
            online = charger.connected and charger.booted
            for connector_id in charger.connector_ids():
                connector = charger.connector(connector_id)
                key = ConnectorKey(charger.charge_point_id, connector_id)
                known[key] = (charger, connector)
                mode = session_modes.get(connector.transaction_id or 0) or placement.mode
                site_connectors.append(
                    SiteConnector(
                        demand=ConnectorDemand(
                            key=key,
                            circuit_id=charger.circuit_id,
                            grid_phases=charger.grid_phases,
                            min_current_a=float(charger.model.min_current_a),
                            max_current_a=max(cap_a, 0.0),
                            max_reason=cap_reason,
                            step_a=1.0 if charger.model.whole_amps else 0.1,
                            priority=placement.priority,
                            arrived_at=connector.started_at or now,
                            paused_since=connector.paused_since,
                            charging_since=connector.charging_since,
                        ),
                        active=connector.active(),
                        online=online,
                        held_a=connector.sent_limit_a,
                        mode=ChargingMode(mode),
                        mode_state=connector.mode_state,
                        draw_a=connector.measured_a or 0.0,
                    )
                )
        in_force = {
            key: connector.sent_limit_a
            for key, (_, connector) in known.items()
            if connector.sent_limit_a is not None
        }
        # The safe limits depend on the layout only: kept until it changes.
        layout_key = (
            tuple(circuits),
            tuple(_layout_part(c.demand) for c in site_connectors),
            site.household_reserve_a,
        )
        kept = self._safe_limits.get(site.id)
        plan = plan_site(
            circuits,
            site_connectors,
            Strategy(site.strategy),
            _grid_reading(layout),
            now,
            mode_settings,
            in_force=in_force,
            dead_band_a=settings.limit_dead_band_a,
            safe=kept[1] if kept is not None and kept[0] == layout_key else None,
        )
        self._safe_limits[site.id] = (layout_key, plan.safe)
        if plan.recheck_at is not None:
            self._schedule(site.id, delay_s=(plan.recheck_at - now).total_seconds() + 0.1)

        sends: list[_Send] = []
        for key, planned in plan.connectors.items():
            charger, connector = known[key]
            connector.mode_state = planned.mode_state
            connector.safe_limit_a = planned.safe_a
            self._note_pause(connector, planned.limit_a, now)
            connector.limit_a = planned.limit_a
            connector.steps = planned.steps
            sent_a = connector.sent_limit_a
            update = limit_update(
                sent_a=sent_a,
                new_a=sent_a if planned.held and sent_a is not None else planned.limit_a,
                safe_a=planned.safe_a,
                lease_until=connector.lease_until,
                now=now,
                dead_band_a=settings.limit_dead_band_a,
                lease_s=settings.limit_lease_s,
            )
            if update is not None:
                sends.append(_Send(charger, key.connector_id, update))

        # Fail-safe of every connected charger of the site: its connectors' lowest safe share.
        fail_safe_work = []
        for charger in chargers:
            shares = [
                plan.safe[ConnectorKey(charger.charge_point_id, connector_id)]
                for connector_id in charger.connector_ids()
                if ConnectorKey(charger.charge_point_id, connector_id) in plan.safe
            ]
            holds_a_limit = any(c.sent_limit_a is not None for c in charger.connectors.values())
            if charger.single_profile and holds_a_limit:
                continue  # its one profile is the transaction's limit until it ends
            if shares and charger.connected and charger.booted:
                lowest = min(shares, key=lambda allocation: allocation.limit_a)
                fail_safe_work.append(self._send_fail_safe(charger, lowest.limit_a, lowest.steps))
        await asyncio.gather(*fail_safe_work)
        await self._send_all(sends, now)
        # A lease is renewed when half of it is gone, even if nothing else happens by then.
        half_lease = timedelta(seconds=settings.limit_lease_s / 2)
        renewals = [
            connector.lease_until - half_lease
            for _, connector in known.values()
            if connector.lease_until is not None
        ]
        if renewals:
            wait_s = (min(renewals) - services.clock.now()).total_seconds()
            self._schedule(site.id, delay_s=max(wait_s, 0.0) + 0.05)

    def _connector_cap(
        self, charger: _Charger, limit: ChargerLimitRecord | None
    ) -> tuple[float, str]:
        """The most one connector of ``charger`` may take: model maximum, operator limit, the
        charger's own ceiling (whichever is lowest), and what it is."""
        cap_a = float(charger.model.max_current_a)
        cap_reason = f"model maximum {charger.model.max_current_a} A"
        if limit is not None:
            amps, words = self._operator_cap(
                charger, limit.value, limit.unit, charger.phases_in_use or len(charger.grid_phases)
            )
            if amps < cap_a:
                cap_a, cap_reason = amps, "; ".join(words)
        if charger.ceiling_a is not None and charger.ceiling_a < cap_a:
            cap_a = charger.ceiling_a
            cap_reason = f"the charger's own limit {_KEY_WALLBOX_CEILING} = {_fmt(cap_a)} A"
        return cap_a, cap_reason

    # ---- decisions ------------------------------------------------------------------------------

    def _operator_cap(
        self, charger: _Charger, value: float, unit: str, phases: int
    ) -> tuple[float, tuple[str, ...]]:
        """The operator's limit in A per phase, and the words for it."""
        services = self._services
        assert services is not None
        if unit == "A":
            return value, (f"operator limit {_fmt(value)} A",)
        voltage = services.settings.nominal_voltage_v
        amps = amps_for(value, "kW", phases, voltage)
        return amps, (
            f"operator limit {_fmt(value)} kW = {amps:.1f} A on {phases} phase"
            f"{'s' if phases != 1 else ''} at {_fmt(voltage)} V",
        )

    @staticmethod
    def _note_pause(connector: _Connector, limit_a: float, now: datetime) -> None:
        """Remember when a connector was paused or resumed (fair rotation, domain rule)."""
        if limit_a <= 0 and connector.paused_since is None:
            connector.paused_since = now
            connector.charging_since = None
        elif limit_a > 0 and connector.paused_since is not None:
            connector.paused_since = None
            connector.charging_since = now
        elif limit_a > 0 and connector.charging_since is None:
            connector.charging_since = now

    # ---- sending --------------------------------------------------------------------------------

    async def _send_all(self, sends: Sequence[_Send], now: datetime) -> None:
        """Lowered limits first (all chargers at once), then raised ones, each charger in turn."""
        services = self._services
        assert services is not None
        lowering = [send for send in sends if send.update.reason.urgent]
        raising = [send for send in sends if not send.update.reason.urgent]
        await asyncio.gather(*(self._send_limit(send) for send in lowering))
        retry_at: datetime | None = None
        ready: list[_Send] = []
        for send in raising:
            quirks = send.charger.quirks
            interval = services.settings.limit_min_interval_s
            if interval is None:
                interval = quirks.min_profile_interval_s if quirks is not None else 0.0
            allowed = earliest_send(send.charger.last_profile_at, interval, now)
            if allowed > now:
                retry_at = allowed if retry_at is None else min(retry_at, allowed)
                continue
            ready.append(send)
        await asyncio.gather(*(self._send_limit(send) for send in ready))
        if retry_at is not None and sends:
            scope = sends[0].charger.scope
            if scope is not None:
                self._schedule(scope, delay_s=max((retry_at - now).total_seconds(), 0.0) + 0.05)

    async def _send_limit(self, send: _Send) -> None:
        """TxProfile for the connector's transaction (OCPP 1.6 §3.13.2)."""
        services = self._services
        assert services is not None
        from chargedeck.csms.charging_profiles import (
            FAIL_SAFE_PROFILE_ID,
            load_control_profile_id,
        )

        charger = send.charger
        connector = charger.connector(send.connector_id)
        if connector.transaction_id is None or charger.quirks is None:
            return
        now = services.clock.now()
        single = charger.single_profile
        lease_s = services.settings.limit_lease_s if send.update.leased and not single else None
        profile = build_limit_profile(
            charging_profile_id=(
                FAIL_SAFE_PROFILE_ID if single else load_control_profile_id(send.connector_id)
            ),
            purpose="TxDefaultProfile" if single else "TxProfile",
            limit_a=send.update.limit_a,
            phases=charger.phases_in_use or len(charger.grid_phases),
            rate_unit=charger.rate_unit,
            voltage_v=services.settings.nominal_voltage_v,
            quirks=charger.quirks,
            now=now,
            transaction_id=None if single else connector.transaction_id,
            transaction_started_at=connector.started_at,
            lease_s=lease_s,
            max_stack_level=charger.max_stack_level,
        )
        status = await self._deliver(
            charger, 0 if single else send.connector_id, profile, "load_control"
        )
        if single and status == "accepted":
            charger.fail_safe_a = None  # replaced: sent again when the transaction ends
        charger.last_profile_at = now
        connector.profile_status = status
        connector.sent_at = now
        if status == "accepted":
            connector.sent_limit_a = send.update.limit_a
            connector.lease_until = (
                now + timedelta(seconds=lease_s) if lease_s is not None else None
            )
            log.info(
                "charge point %s connector %d: limit %s A, %s (%s)",
                charger.charge_point_id,
                send.connector_id,
                _fmt(send.update.limit_a),
                send.update.reason.value,
                "; ".join(connector.steps),
            )
            services.events.publish(
                LimitChanged(
                    charge_point_id=charger.charge_point_id,
                    connector_id=send.connector_id,
                    limit_a=send.update.limit_a,
                    explanation="; ".join(connector.steps),
                )
            )

    async def _send_fail_safe(
        self, charger: _Charger, limit_a: float, steps: Iterable[str]
    ) -> None:
        """TxDefaultProfile on connector 0: the limit every connector keeps without ChargeDeck."""
        services = self._services
        assert services is not None
        charger.fail_safe_steps = tuple(steps)
        if charger.fail_safe_a == limit_a or not (charger.connected and charger.booted):
            return
        if charger.quirks is None:
            return
        from chargedeck.csms.charging_profiles import FAIL_SAFE_PROFILE_ID

        now = services.clock.now()
        profile = build_limit_profile(
            charging_profile_id=FAIL_SAFE_PROFILE_ID,
            purpose="TxDefaultProfile",
            limit_a=limit_a,
            phases=charger.phases_in_use or len(charger.grid_phases),
            rate_unit=charger.rate_unit,
            voltage_v=services.settings.nominal_voltage_v,
            quirks=charger.quirks,
            now=now,
            max_stack_level=charger.max_stack_level,
        )
        status = await self._deliver(charger, 0, profile, "fail_safe")
        charger.fail_safe_status = status
        charger.fail_safe_sent_at = now
        charger.last_profile_at = now
        if status == "accepted":
            charger.fail_safe_a = limit_a
            log.info(
                "charge point %s: fail-safe limit %s A (%s)",
                charger.charge_point_id,
                _fmt(limit_a),
                "; ".join(charger.fail_safe_steps),
            )

    async def _deliver(
        self, charger: _Charger, connector_id: int, profile: Any, origin: str
    ) -> str:
        """Send one profile; the outcome as a word (accepted, rejected, not connected, ...)."""
        services = self._services
        assert services is not None
        from chargedeck.csms.charging_profiles import send_charging_profile
        from chargedeck.csms.commands import CommandError
        from chargedeck.csms.stations import ChargePointDisconnected
        from chargedeck.domain.charging_profiles import ProfileRefused
        from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse

        try:
            outcome = await send_charging_profile(
                services, charger.charge_point_id, connector_id, profile, origin
            )
        except ProfileRefused as exc:
            log.warning(
                "charge point %s connector %d: load control's profile refused before sending: %s",
                charger.charge_point_id,
                connector_id,
                exc,
            )
            return "refused"
        except (CommandError, ChargePointDisconnected) as exc:
            log.info("charge point %s: limit not sent: %s", charger.charge_point_id, exc)
            return "not sent"
        except (CallErrorReceived, CallTimeout, InvalidResponse) as exc:
            log.warning(
                "charge point %s connector %d: SetChargingProfile failed: %s",
                charger.charge_point_id,
                connector_id,
                exc,
            )
            return "failed"
        status = str(outcome.status)
        if status != "accepted":
            log.warning(
                "charge point %s connector %d answered %s to load control's %s",
                charger.charge_point_id,
                connector_id,
                status,
                origin,
            )
        return status

    # ---- verification ---------------------------------------------------------------------------

    def _check_honoured(
        self, charger: _Charger, connector_id: int, connector: _Connector, at: datetime
    ) -> None:
        """A connector drawing above its limit (+ margin) for longer than the alert window raises
        an alert: several Wallbox firmwares accept a profile and ignore it (field notes Q6)."""
        services = self._services
        assert services is not None
        settings = services.settings
        # The transaction's own limit, else the TxDefaultProfile it charges under.
        limit, sent_at = connector.sent_limit_a, connector.sent_at
        if limit is None and charger.fail_safe_a is not None:
            limit, sent_at = charger.fail_safe_a, charger.fail_safe_sent_at
        measured = connector.measured_a
        if limit is None or measured is None or sent_at is None:
            return
        if measured <= limit + settings.limit_alert_margin_a:
            connector.over_since = None
            if connector.alert_raised:
                connector.alert_raised = False
                self._spawn(self._clear_alert(charger, connector_id), self._alert_tasks)
            return
        if connector.over_since is None:
            connector.over_since = max(at, sent_at)
            return
        if connector.alert_raised:
            return
        if (at - connector.over_since).total_seconds() < settings.limit_alert_window_s:
            return
        connector.alert_raised = True
        explanation = (
            f"draws {_fmt(measured)} A against a limit of {_fmt(limit)} A since "
            f"{connector.over_since.isoformat()}"
            + "".join(f"; {words}" for words in self._charger_side(charger, connector))
        )
        log.warning(
            "charge point %s connector %d does not honour its limit: %s",
            charger.charge_point_id,
            connector_id,
            explanation,
        )
        self._spawn(
            self._raise_alert(
                charger, connector_id, limit, measured, connector.over_since, explanation
            ),
            self._alert_tasks,
        )

    async def _raise_alert(
        self,
        charger: _Charger,
        connector_id: int,
        limit_a: float,
        measured_a: float,
        over_since: datetime,
        explanation: str,
    ) -> None:
        services = self._services
        if services is None:
            return
        await services.store.sites.raise_alert(
            charge_point_id=charger.charge_point_id,
            connector_id=connector_id,
            limit_a=limit_a,
            measured_a=measured_a,
            over_since=over_since,
            now=services.clock.now(),
            explanation=explanation,
        )
        services.events.publish(
            AlertRaised(
                charge_point_id=charger.charge_point_id,
                connector_id=connector_id,
                kind="limit-not-honoured",
                message=explanation,
            )
        )

    async def _clear_alert(self, charger: _Charger, connector_id: int) -> None:
        services = self._services
        if services is None:
            return
        await services.store.sites.clear_alerts(
            charger.charge_point_id, connector_id, services.clock.now()
        )
        services.events.publish(
            AlertCleared(
                charge_point_id=charger.charge_point_id,
                connector_id=connector_id,
                kind="limit-not-honoured",
                message=f"connector {connector_id} draws within its limit again",
            )
        )

    @staticmethod
    def _charger_side(charger: _Charger, connector: _Connector) -> tuple[str, ...]:
        """What the charger itself says about its limit (most restrictive wins, DESIGN §7)."""
        words = []
        if charger.ceiling_a is not None:
            words.append(
                f"the charger's own limit {_KEY_WALLBOX_CEILING} = {_fmt(charger.ceiling_a)} A"
            )
        if connector.offered_a is not None:
            words.append(f"the charger reports offering {_fmt(connector.offered_a)} A")
        return tuple(words)


# ---- helpers ---------------------------------------------------------------------------------


def _layout_part(demand: ConnectorDemand) -> tuple[object, ...]:
    """What of a connector's demand its safe limit depends on (not who charges, nor since when)."""
    return (
        demand.key,
        demand.circuit_id,
        demand.grid_phases,
        demand.min_current_a,
        demand.max_current_a,
        demand.max_reason,
        demand.step_a,
    )


def _grid_reading(layout: SiteLayout) -> GridReading | None:
    for reading in layout.readings:
        if reading.kind == "grid":
            amps = (reading.l1_a or 0.0, reading.l2_a or 0.0, reading.l3_a or 0.0)
            return GridReading(amps=amps, measured_at=reading.measured_at)
    return None


def _round_down(amps: float, model: ChargerModel) -> float:
    step = 1.0 if model.whole_amps else 0.1
    rounded = math.floor(amps / step + 1e-9) * step
    rounded = round(rounded, 1)
    return rounded if rounded >= model.min_current_a else 0.0


def _step_words(model: ChargerModel) -> str:
    return f"{model.name}: whole amps" if model.whole_amps else "0.1 A steps"


def _fmt(value: float) -> str:
    return f"{value:g}"


def _int_or_none(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _positive_or_none(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if value > 0 and math.isfinite(value) else None


def _scope_text(scope: Scope) -> str:
    return f"site {scope}" if isinstance(scope, int) else f"charger {scope}"
