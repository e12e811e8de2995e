"""API handlers and bodies for site load management (DESIGN §7, issue 6): sites and their circuit
trees, where chargers hang, operator limits, grid and solar readings, effective limits, limit
alerts and a session's charging mode. Routes: rows of ``ROUTES`` in app.py.

Every change tells load control (``site_changed`` / ``charger_changed``), which recomputes in
the background: the answer never waits for a charger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.domain.charging_modes import GridReading, SolarReading
from chargedeck.domain.ids import TransactionId
from chargedeck.domain.load_management import PhaseCurrents
from chargedeck.domain.sites import (
    DEFAULT_PHASE_ROTATION,
    MAX_CIRCUIT_LIMIT_A,
    MAX_SOLAR_POWER_W,
    check_household_reserve,
    check_meter_stale_after,
    check_mode,
    check_name,
    check_operator_limit,
    check_phase_limits,
    check_phase_rotation,
    check_strategy,
    phase_limits,
)
from chargedeck.server.api.auth import Principal
from chargedeck.server.api.common import (
    ApiHandlers,
    ApiProblem,
    id_number,
    json_response,
    numeric_cursor,
    page_limit,
    path_charge_point_id,
    read_body,
)
from chargedeck.server.api.views import Page, View
from chargedeck.store import errors as store_errors
from chargedeck.store.sites import (
    ChargerLimitRecord,
    CircuitRecord,
    LimitAlertRecord,
    PlacementRecord,
    SiteLayout,
    SiteReadingRecord,
    SiteRecord,
)

T = TypeVar("T")
R = TypeVar("R")

MAX_READING_AHEAD_S = 300
"""How far in the future a reading's measured_at may be: the meter's clock may run ahead of
ours a little, but a reading dated far ahead would never go stale (DESIGN §7 fail-safe)."""

Priority = Annotated[int, msgspec.Meta(ge=-1000, le=1000)]
"""Higher is served first under the priority strategy."""

Amps = float | list[float]
"""A fuse: one number (the same on each phase of ``phases``) or three (L1, L2, L3)."""

# ---- views ----------------------------------------------------------------------------------


class SiteView(View, frozen=True, kw_only=True):
    """A site. ``strategy``: equal, priority, first_come; ``limit_a``: its grid connection's
    per-phase limits (L1, L2, L3) in A."""

    id: int
    name: str
    strategy: str
    household_reserve_a: float
    """Amps per phase assumed taken by the household when no fresh grid reading exists."""
    meter_stale_after_s: int
    grid_circuit_id: int
    limit_a: tuple[float, float, float]
    created_at: datetime
    updated_at: datetime


class CircuitView(View, frozen=True, kw_only=True):
    """A circuit: the grid connection (``parent_id`` null) or a sub-board; per-phase limits."""

    id: int
    site_id: int
    parent_id: int | None
    name: str
    limit_a: tuple[float, float, float]
    created_at: datetime


class ChargerLimitView(View, frozen=True, kw_only=True):
    """The operator's cap of one charger: ``value`` in ``unit`` (A per phase, or kW)."""

    charge_point_id: str
    value: float
    unit: str
    set_at: datetime


class PlacementView(View, frozen=True, kw_only=True):
    """Where a charger hangs. ``phase_rotation``: L1L2L3, L2L3L1, L3L1L2 or L1, L2, L3 (single
    phase); ``mode``: fast, min_solar, solar."""

    charge_point_id: str
    site_id: int
    circuit_id: int
    phase_rotation: str
    priority: int
    mode: str
    placed_at: datetime


class PlacedChargerView(View, frozen=True, kw_only=True):
    """A charger in a site's tree, with its operator limit (null: none)."""

    charge_point_id: str
    phase_rotation: str
    priority: int
    mode: str
    placed_at: datetime
    limit: ChargerLimitView | None


class CircuitTreeView(CircuitView, frozen=True, kw_only=True):
    """A circuit with the chargers on it and the circuits below it."""

    chargers: list[PlacedChargerView]
    circuits: list[CircuitTreeView]


class ReadingView(View, frozen=True, kw_only=True):
    """The latest grid (per-phase A, import positive) or solar (W) reading of a site."""

    kind: str
    l1_a: float | None
    l2_a: float | None
    l3_a: float | None
    power_w: float | None
    source: str
    measured_at: datetime
    received_at: datetime


class SiteDetailView(SiteView, frozen=True, kw_only=True):
    """A site with its circuit tree (from the grid connection down) and latest readings."""

    grid: CircuitTreeView
    readings: list[ReadingView]


class ReadingAcceptedView(View, frozen=True, kw_only=True):
    """A reading handed to load control."""

    site_id: int
    kind: str
    l1_a: float | None = None
    l2_a: float | None = None
    l3_a: float | None = None
    power_w: float | None = None
    measured_at: datetime


class EffectiveLimitView(View, frozen=True, kw_only=True):
    """A connector's limit in force (A per phase, 0 = paused, null = ChargeDeck sets none) and
    the chain that produced it."""

    charge_point_id: str
    connector_id: int
    limit_a: float | None
    safe_limit_a: float | None
    """The fail-safe limit the charger falls back to without ChargeDeck."""
    steps: list[str]
    profile_status: str | None
    sent_at: datetime | None
    offered_a: float | None
    measured_a: float | None


class LimitAlertView(View, frozen=True, kw_only=True):
    """A connector that kept drawing above its limit; open while ``cleared_at`` is null."""

    id: int
    charge_point_id: str
    connector_id: int
    limit_a: float
    measured_a: float
    over_since: datetime
    raised_at: datetime
    cleared_at: datetime | None
    explanation: str


class TransactionModeView(View, frozen=True, kw_only=True):
    transaction_id: int
    charge_point_id: str
    mode: str | None
    """null: the mode of the charger's placement."""


# ---- bodies ---------------------------------------------------------------------------------


class NewSite(View, frozen=True, kw_only=True):
    """Body of POST /sites: the grid connection's fuse ``limit_a`` (one number on ``phases``
    1 or 3, or three numbers for L1, L2, L3); ``strategy`` equal, priority or first_come."""

    name: str
    limit_a: Amps
    phases: int = 3
    strategy: str = "equal"
    household_reserve_a: float = 0.0
    meter_stale_after_s: int = 60


class SiteChange(View, frozen=True, kw_only=True):
    """Body of PATCH /sites/{site_id}: what is given changes; ``limit_a`` (with ``phases``) is
    the grid connection's."""

    name: str | None = None
    strategy: str | None = None
    household_reserve_a: float | None = None
    meter_stale_after_s: int | None = None
    limit_a: Amps | None = None
    phases: int = 3


class NewCircuit(View, frozen=True, kw_only=True):
    """Body of POST /sites/{site_id}/circuits: a sub-board under ``parent_id`` (default: the
    grid connection)."""

    name: str
    parent_id: int | None = None
    limit_a: Amps
    phases: int = 3


class CircuitChange(View, frozen=True, kw_only=True):
    """Body of PATCH /circuits/{circuit_id}: what is given changes."""

    name: str | None = None
    parent_id: int | None = None
    limit_a: Amps | None = None
    phases: int = 3


class NewPlacement(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{id}/placement: ``circuit_id``, or ``site`` (a name) for its
    grid connection or, with ``circuit`` (a name), that circuit of it."""

    circuit_id: int | None = None
    site: str | None = None
    circuit: str | None = None
    phase_rotation: str = DEFAULT_PHASE_ROTATION
    priority: Priority = 0
    mode: str = "fast"


class NewChargerLimit(View, frozen=True, kw_only=True):
    """Body of PUT /charge-points/{id}/limit: A per phase (0-80, steps of 0.1) or kW (0-350)."""

    value: float
    unit: str


class GridReadingBody(View, frozen=True, kw_only=True, tag_field="kind", tag="grid"):
    """A grid meter reading: current per phase in A, import positive, export negative
    (``l2_a``/``l3_a`` may be left out only on a single-phase site); ``measured_at`` with its
    offset, default now."""

    l1_a: float
    l2_a: float | None = None
    l3_a: float | None = None
    measured_at: datetime | None = None


class SolarReadingBody(View, frozen=True, kw_only=True, tag_field="kind", tag="solar"):
    """A solar production reading in W."""

    power_w: float
    measured_at: datetime | None = None


ReadingBody = GridReadingBody | SolarReadingBody
"""Body of POST /sites/{site_id}/readings, by ``kind``: grid or solar."""
_READING_DECODER = msgspec.json.Decoder(ReadingBody)


class TransactionMode(View, frozen=True, kw_only=True):
    """Body of PUT /transactions/{id}/mode: fast, min_solar, solar, or null (the placement's)."""

    mode: str | None


# ---- helpers --------------------------------------------------------------------------------


def _checked(rule: Callable[[], R]) -> R:
    """``rule()``; its ValueError (a domain/sites.py sentence) becomes a 422."""
    try:
        return rule()
    except ValueError as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None


def _maybe(value: T | None, check: Callable[[T], R]) -> R | None:
    """A field of a PATCH body: None (unchanged) or checked like :func:`_checked`."""
    if value is None:
        return None
    return _checked(lambda: check(value))


def _limits(amps: float | list[float], phases: int) -> PhaseCurrents:
    if isinstance(amps, list):
        return _checked(lambda: check_phase_limits(amps))
    return _checked(lambda: phase_limits(amps, phases))


def _triple(record: CircuitRecord) -> tuple[float, float, float]:
    return (record.limit_l1_a, record.limit_l2_a, record.limit_l3_a)


def _circuit_view(record: CircuitRecord) -> CircuitView:
    return CircuitView(
        id=record.id,
        site_id=record.site_id,
        parent_id=record.parent_id,
        name=record.name,
        limit_a=_triple(record),
        created_at=record.created_at,
    )


def _site_view(site: SiteRecord, grid: CircuitRecord) -> SiteView:
    return SiteView(
        id=site.id,
        name=site.name,
        strategy=site.strategy,
        household_reserve_a=site.household_reserve_a,
        meter_stale_after_s=site.meter_stale_after_s,
        grid_circuit_id=grid.id,
        limit_a=_triple(grid),
        created_at=site.created_at,
        updated_at=site.updated_at,
    )


def _limit_view(record: ChargerLimitRecord) -> ChargerLimitView:
    return msgspec.convert(record, ChargerLimitView, from_attributes=True)


def _placement_view(record: PlacementRecord, site_id: int) -> PlacementView:
    return PlacementView(**msgspec.structs.asdict(record), site_id=site_id)


def _reading_view(record: SiteReadingRecord) -> ReadingView:
    return msgspec.convert(record, ReadingView, from_attributes=True)


def _grid(layout: SiteLayout) -> CircuitRecord:
    return next(c for c in layout.circuits if c.parent_id is None)


def _detail_view(layout: SiteLayout) -> SiteDetailView:
    limits = {limit.charge_point_id: limit for limit in layout.limits}
    chargers: dict[int, list[PlacedChargerView]] = {}
    for placement in layout.placements:
        limit = limits.get(placement.charge_point_id)
        chargers.setdefault(placement.circuit_id, []).append(
            PlacedChargerView(
                charge_point_id=placement.charge_point_id,
                phase_rotation=placement.phase_rotation,
                priority=placement.priority,
                mode=placement.mode,
                placed_at=placement.placed_at,
                limit=None if limit is None else _limit_view(limit),
            )
        )
    below: dict[int | None, list[CircuitRecord]] = {}
    for circuit in layout.circuits:
        below.setdefault(circuit.parent_id, []).append(circuit)

    def tree(circuit: CircuitRecord) -> CircuitTreeView:
        return CircuitTreeView(
            **msgspec.structs.asdict(_circuit_view(circuit)),
            chargers=chargers.get(circuit.id, []),
            circuits=[tree(child) for child in below.get(circuit.id, [])],
        )

    grid = _grid(layout)
    return SiteDetailView(
        **msgspec.structs.asdict(_site_view(layout.site, grid)),
        grid=tree(grid),
        readings=[_reading_view(r) for r in layout.readings],
    )


def _alert_view(record: LimitAlertRecord) -> LimitAlertView:
    return msgspec.convert(record, LimitAlertView, from_attributes=True)


def _site_id(request: Request) -> int:
    return id_number(request.path_params["site_id"], "site-id", "")


def _circuit_id(request: Request) -> int:
    return id_number(request.path_params["circuit_id"], "circuit-id", "")


@contextlib.contextmanager
def _store_refusals(not_found: str = "not-found") -> Iterator[None]:
    """The store's sentences as problems: unknown rows 404 (``not_found`` the kind), conflicts
    409."""
    try:
        yield
    except store_errors.NotFound as exc:
        raise ApiProblem(HTTPStatus.NOT_FOUND, not_found, str(exc)) from None
    except store_errors.Conflict as exc:
        raise ApiProblem(HTTPStatus.CONFLICT, "site-conflict", str(exc)) from None


def _measured_at(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise ApiProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid-body",
            f"measured_at {value.isoformat()} needs an offset, e.g. Z or +01:00",
        )
    if value > now + timedelta(seconds=MAX_READING_AHEAD_S):
        raise ApiProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid-body",
            f"measured_at {value.isoformat()} is more than {MAX_READING_AHEAD_S} s ahead of "
            f"this server's clock ({now.isoformat(timespec='seconds')})",
        )
    return value


def _check_amps(name: str, amps: float) -> float:
    if not -MAX_CIRCUIT_LIMIT_A <= amps <= MAX_CIRCUIT_LIMIT_A:
        raise ApiProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid-body",
            f"{name} must be from {-MAX_CIRCUIT_LIMIT_A:g} to {MAX_CIRCUIT_LIMIT_A:g} A, "
            f"got {amps:g}",
        )
    return amps


class SiteHandlers(ApiHandlers):
    """Sites, circuits, placements, operator limits, readings, effective limits, alerts."""

    # ---- sites ----------------------------------------------------------------------------

    async def list_sites(self, request: Request, caller: Principal) -> Response:
        store = self.services.store.sites
        records = await store.list_sites()
        grids = await store.grid_connections()
        return json_response(Page(items=[_site_view(r, grids[r.id]) for r in records]))

    async def add_site(self, request: Request, caller: Principal) -> Response:
        body = await read_body(request, NewSite)
        name = _checked(lambda: check_name(body.name, "site name"))
        strategy = _checked(lambda: check_strategy(body.strategy))
        reserve = _checked(lambda: check_household_reserve(body.household_reserve_a))
        stale = _checked(lambda: check_meter_stale_after(body.meter_stale_after_s))
        limit_a = _limits(body.limit_a, body.phases)
        with _store_refusals():
            site, grid = await self.services.store.sites.add_site(
                name,
                strategy=strategy.value,
                limit_a=limit_a,
                household_reserve_a=reserve,
                meter_stale_after_s=stale,
                now=self.services.clock.now(),
            )
        self.services.load_control.site_changed(site.id)
        return json_response(_site_view(site, grid), status=201)

    async def _layout(self, site_id: int) -> SiteLayout:
        with _store_refusals("unknown-site"):
            return await self.services.store.sites.layout(site_id)

    async def get_site(self, request: Request, caller: Principal) -> Response:
        return json_response(_detail_view(await self._layout(_site_id(request))))

    async def update_site(self, request: Request, caller: Principal) -> Response:
        site_id = _site_id(request)
        body = await read_body(request, SiteChange)
        store = self.services.store.sites
        name = _maybe(body.name, lambda n: check_name(n, "site name"))
        strategy = _maybe(body.strategy, check_strategy)
        reserve = _maybe(body.household_reserve_a, check_household_reserve)
        stale = _maybe(body.meter_stale_after_s, check_meter_stale_after)
        limit_a = None if body.limit_a is None else _limits(body.limit_a, body.phases)
        grid = _grid(await self._layout(site_id))
        with _store_refusals("unknown-site"):
            site = await store.update_site(
                site_id,
                name=name,
                strategy=None if strategy is None else strategy.value,
                household_reserve_a=reserve,
                meter_stale_after_s=stale,
                now=self.services.clock.now(),
            )
            if limit_a is not None:
                grid = await store.update_circuit(grid.id, limit_a=limit_a)
        self.services.load_control.site_changed(site_id)
        return json_response(_site_view(site, grid))

    async def delete_site(self, request: Request, caller: Principal) -> Response:
        layout = await self._layout(_site_id(request))
        with _store_refusals("unknown-site"):
            await self.services.store.sites.delete_site(layout.site.id)
        self.services.load_control.site_changed(None)
        return json_response(_site_view(layout.site, _grid(layout)))

    # ---- circuits -------------------------------------------------------------------------

    async def add_circuit(self, request: Request, caller: Principal) -> Response:
        site_id = _site_id(request)
        body = await read_body(request, NewCircuit)
        name = _checked(lambda: check_name(body.name, "circuit name"))
        limit_a = _limits(body.limit_a, body.phases)
        parent_id = body.parent_id
        if parent_id is None:
            parent_id = _grid(await self._layout(site_id)).id
        with _store_refusals():
            record = await self.services.store.sites.add_circuit(
                site_id,
                name=name,
                parent_id=parent_id,
                limit_a=limit_a,
                now=self.services.clock.now(),
            )
        self.services.load_control.site_changed(site_id)
        return json_response(_circuit_view(record), status=201)

    async def update_circuit(self, request: Request, caller: Principal) -> Response:
        circuit_id = _circuit_id(request)
        body = await read_body(request, CircuitChange)
        name = _maybe(body.name, lambda n: check_name(n, "circuit name"))
        limit_a = None if body.limit_a is None else _limits(body.limit_a, body.phases)
        with _store_refusals():
            record = await self.services.store.sites.update_circuit(
                circuit_id, name=name, limit_a=limit_a, parent_id=body.parent_id
            )
        self.services.load_control.site_changed(record.site_id)
        return json_response(_circuit_view(record))

    async def delete_circuit(self, request: Request, caller: Principal) -> Response:
        with _store_refusals("unknown-circuit"):
            record = await self.services.store.sites.delete_circuit(_circuit_id(request))
        self.services.load_control.site_changed(record.site_id)
        return json_response(_circuit_view(record))

    # ---- chargers on sites ------------------------------------------------------------------

    async def _circuit_of(self, body: NewPlacement) -> CircuitRecord:
        """The circuit a placement body names."""
        store = self.services.store.sites
        if (body.circuit_id is None) == (body.site is None):
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-body",
                "give circuit_id, or site (a name, with circuit for one of its circuits), not both",
            )
        if body.circuit_id is not None:
            if body.circuit is not None:
                raise ApiProblem(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    "invalid-body",
                    "circuit (a name) goes with site; with circuit_id leave it out",
                )
            with _store_refusals("unknown-circuit"):
                return await store.get_circuit(body.circuit_id)
        with _store_refusals("unknown-site"):
            site = await store.site_by_name(body.site or "")
            layout = await store.layout(site.id)
        if body.circuit is None:
            return _grid(layout)
        for circuit in layout.circuits:
            if circuit.name == body.circuit:
                return circuit
        raise ApiProblem(
            HTTPStatus.NOT_FOUND,
            "unknown-circuit",
            f"site {site.name!r} has no circuit named {body.circuit[:64]!r}",
        )

    async def place_charger(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, NewPlacement)
        rotation = _checked(lambda: check_phase_rotation(body.phase_rotation))
        mode = _checked(lambda: check_mode(body.mode))
        await self.known_charge_point(charge_point_id)
        circuit = await self._circuit_of(body)
        before = await self.services.store.sites.placement_of(charge_point_id)
        with _store_refusals():
            record = await self.services.store.sites.place_charger(
                charge_point_id,
                circuit_id=circuit.id,
                phase_rotation=rotation,
                priority=body.priority,
                mode=mode.value,
                now=self.services.clock.now(),
            )
        if before is not None and before[1] != circuit.site_id:
            self.services.load_control.site_changed(before[1])
        self.services.load_control.site_changed(circuit.site_id)
        self.services.load_control.charger_changed(charge_point_id)
        return json_response(_placement_view(record, circuit.site_id))

    async def unplace_charger(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        await self.known_charge_point(charge_point_id)
        before = await self.services.store.sites.placement_of(charge_point_id)
        record = await self.services.store.sites.unplace_charger(charge_point_id)
        if before is None or record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "not-placed",
                f"charge point {charge_point_id!r} is not placed on a site",
            )
        self.services.load_control.site_changed(before[1])
        self.services.load_control.charger_changed(charge_point_id)
        return json_response(_placement_view(record, before[1]))

    async def set_charger_limit(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        body = await read_body(request, NewChargerLimit)
        value, unit = _checked(lambda: check_operator_limit(body.value, body.unit))
        await self.known_charge_point(charge_point_id)
        with _store_refusals("unknown-charge-point"):
            record = await self.services.store.sites.set_charger_limit(
                charge_point_id, value, unit, self.services.clock.now()
            )
        self.services.load_control.charger_changed(charge_point_id)
        return json_response(_limit_view(record))

    async def clear_charger_limit(self, request: Request, caller: Principal) -> Response:
        charge_point_id = path_charge_point_id(request)
        await self.known_charge_point(charge_point_id)
        record = await self.services.store.sites.clear_charger_limit(charge_point_id)
        if record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "no-limit",
                f"charge point {charge_point_id!r} has no operator limit",
            )
        self.services.load_control.charger_changed(charge_point_id)
        return json_response(_limit_view(record))

    # ---- inputs and what came of them ------------------------------------------------------

    async def add_reading(self, request: Request, caller: Principal) -> Response:
        site_id = _site_id(request)
        try:
            body = _READING_DECODER.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None
        now = self.services.clock.now()
        measured_at = _measured_at(body.measured_at, now)
        layout = await self._layout(site_id)
        reading: GridReading | SolarReading
        if isinstance(body, GridReadingBody):
            grid = _triple(_grid(layout))
            amps = [body.l1_a, body.l2_a, body.l3_a]
            for phase in (1, 2):
                if amps[phase] is None and grid[phase] > 0:
                    raise ApiProblem(
                        HTTPStatus.UNPROCESSABLE_ENTITY,
                        "invalid-body",
                        f"l{phase + 1}_a is missing: site {layout.site.name!r} has a limit of "
                        f"{grid[phase]:g} A on L{phase + 1}",
                    )
            l1, l2, l3 = (_check_amps(f"l{i + 1}_a", a or 0.0) for i, a in enumerate(amps))
            reading = GridReading(amps=(l1, l2, l3), measured_at=measured_at)
            view = ReadingAcceptedView(
                site_id=site_id, kind="grid", l1_a=l1, l2_a=l2, l3_a=l3, measured_at=measured_at
            )
        else:
            if not 0 <= body.power_w <= MAX_SOLAR_POWER_W:
                raise ApiProblem(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    "invalid-body",
                    f"power_w must be from 0 to {MAX_SOLAR_POWER_W:g} W, got {body.power_w:g}",
                )
            reading = SolarReading(power_w=body.power_w, measured_at=measured_at)
            view = ReadingAcceptedView(
                site_id=site_id, kind="solar", power_w=body.power_w, measured_at=measured_at
            )
        with _store_refusals("unknown-site"):
            await self.services.load_control.receive_reading(site_id, reading, "api")
        return json_response(view, status=202)

    async def effective_limits(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(path_charge_point_id(request))
        views = [
            msgspec.convert(limit, EffectiveLimitView, from_attributes=True)
            for limit in self.services.load_control.effective_limits(record.id)
        ]
        return json_response(Page(items=views))

    async def list_limit_alerts(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        open_text = params.get("open")
        if open_text not in (None, "true", "false"):
            raise ApiProblem(
                HTTPStatus.BAD_REQUEST,
                "invalid-query",
                f"open={open_text[:16]!r}: expected true or false",
            )
        limit = page_limit(request)
        records = await self.services.store.sites.list_alerts(
            params.get("charge_point_id"),
            open_only=open_text == "true",
            limit=limit,
            before_id=numeric_cursor(request),
        )
        next_cursor = str(records[-1].id) if len(records) == limit else None
        return json_response(Page(items=[_alert_view(r) for r in records], next_cursor=next_cursor))

    async def set_transaction_mode(self, request: Request, caller: Principal) -> Response:
        text: str = request.path_params["transaction_id"]
        transaction_id = TransactionId(id_number(text, "transaction-id", ""))
        body = await read_body(request, TransactionMode)
        checked = _maybe(body.mode, check_mode)
        mode = None if checked is None else checked.value
        record = await self.services.store.transactions.get_transaction(transaction_id)
        if record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND, "unknown-transaction", f"no transaction {transaction_id}"
            )
        if record.stopped_at is not None:
            raise ApiProblem(
                HTTPStatus.CONFLICT,
                "transaction-stopped",
                f"transaction {transaction_id} stopped at "
                f"{record.stopped_at.isoformat(timespec='seconds')}; a mode applies to a "
                "running session",
            )
        with _store_refusals("unknown-transaction"):
            await self.services.store.sites.set_transaction_mode(transaction_id, mode)
        self.services.load_control.charger_changed(record.charge_point_id)
        return json_response(
            TransactionModeView(
                transaction_id=transaction_id,
                charge_point_id=record.charge_point_id,
                mode=mode,
            )
        )
