"""Sites, their circuits, where chargers hang on them, operator limits, meter readings and limit
alerts (tables sites, circuits, charger_placements, charger_limits, site_readings, limit_alerts;
migration 0005). Load control (csms/load_control.py) reads a site's layout in one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from chargedeck.domain.ids import ChargePointId, TransactionId
from chargedeck.domain.sites import GRID_CONNECTION_NAME
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import Conflict, NotFound
from chargedeck.store.schema import (
    charge_points,
    charger_limits,
    charger_placements,
    circuits,
    limit_alerts,
    site_readings,
    sites,
    transactions,
)


class SiteRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    strategy: str
    """equal, priority, first_come (domain/load_management.Strategy)."""
    household_reserve_a: float
    meter_stale_after_s: int
    created_at: datetime
    updated_at: datetime


class CircuitRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    site_id: int
    parent_id: int | None
    """None for the site's grid connection."""
    name: str
    limit_l1_a: float
    limit_l2_a: float
    limit_l3_a: float
    created_at: datetime


class PlacementRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Where one charger hangs: its circuit, phase wiring, priority and charging mode."""

    charge_point_id: ChargePointId
    circuit_id: int
    phase_rotation: str
    """L1L2L3, L2L3L1, L3L1L2 (three-phase) or L1, L2, L3 (single-phase)."""
    priority: int
    mode: str
    """fast, min_solar, solar (domain/charging_modes.ChargingMode)."""
    placed_at: datetime


class ChargerLimitRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The operator's cap for one charger, as typed."""

    charge_point_id: ChargePointId
    value: float
    unit: str
    """A (per phase) or kW."""
    set_at: datetime


class SiteReadingRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The latest grid (per-phase A, import positive) or solar (W) reading of a site."""

    site_id: int
    kind: str
    """grid or solar."""
    l1_a: float | None
    l2_a: float | None
    l3_a: float | None
    power_w: float | None
    source: str
    """api or mqtt."""
    measured_at: datetime
    received_at: datetime


class LimitAlertRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    charge_point_id: ChargePointId
    connector_id: int
    limit_a: float
    measured_a: float
    over_since: datetime
    raised_at: datetime
    cleared_at: datetime | None
    explanation: str


class SiteLayout(msgspec.Struct, frozen=True, kw_only=True):
    """Everything load control needs about one site, read in one call."""

    site: SiteRecord
    circuits: list[CircuitRecord]
    placements: list[PlacementRecord]
    limits: list[ChargerLimitRecord]
    """Operator limits of the chargers placed on the site."""
    readings: list[SiteReadingRecord]


R = TypeVar("R", bound=msgspec.Struct)

_S = sites.c
_C = circuits.c
_P = charger_placements.c
_L = charger_limits.c
_RD = site_readings.c
_A = limit_alerts.c
_SITE_COLUMNS = tuple(sites.c)
_CIRCUIT_COLUMNS = tuple(circuits.c)
_PLACEMENT_COLUMNS = tuple(charger_placements.c)
_LIMIT_COLUMNS = tuple(charger_limits.c)
_READING_COLUMNS = tuple(site_readings.c)
_ALERT_COLUMNS = tuple(limit_alerts.c)

# The layout's one statement for the tree: the site, each circuit, each charger placed on it and
# its operator limit, as one row per circuit and placement; columns prefixed by table.
_LAYOUT_PREFIXES = (
    ("site_", sites),
    ("circuit_", circuits),
    ("placement_", charger_placements),
    ("limit_", charger_limits),
)
_SELECT_LAYOUT = (
    sa.select(
        *(
            column.label(prefix + column.name)
            for prefix, table in _LAYOUT_PREFIXES
            for column in table.c
        )
    )
    .select_from(
        sites.outerjoin(circuits, _C.site_id == _S.id)
        .outerjoin(charger_placements, _P.circuit_id == _C.id)
        .outerjoin(charger_limits, _L.charge_point_id == _P.charge_point_id)
    )
    .where(_S.id == sa.bindparam("site_id"))
    .order_by(_C.id, _P.charge_point_id)
)
_SELECT_READINGS = (
    sa.select(*_READING_COLUMNS).where(_RD.site_id == sa.bindparam("site_id")).order_by(_RD.kind)
)
_SELECT_PLACEMENT = (
    sa.select(*_PLACEMENT_COLUMNS, _C.site_id)
    .join(circuits, _C.id == _P.circuit_id)
    .where(_P.charge_point_id == sa.bindparam("charge_point_id"))
)
_SELECT_LIMIT = sa.select(*_LIMIT_COLUMNS).where(
    _L.charge_point_id == sa.bindparam("charge_point_id")
)


def _prefixed(record_type: type[R], row: sa.RowMapping, prefix: str) -> R:
    """The record whose fields are the columns of ``row`` named ``prefix`` + field."""
    return msgspec.convert(
        {field: row[prefix + field] for field in record_type.__struct_fields__}, record_type
    )


def _no_site(site_id: int) -> NotFound:
    return NotFound(f"there is no site {site_id}")


def _no_circuit(circuit_id: int) -> NotFound:
    return NotFound(f"there is no circuit {circuit_id}")


def _unknown_charge_point(charge_point_id: str) -> NotFound:
    return NotFound(f"charge point {charge_point_id!r} is not known to this CSMS")


class Sites:
    """Reads and writes of the site tables. Raises ``NotFound`` for an unknown id or name and
    ``Conflict`` (store/errors.py) for a duplicate name, a second grid connection, a parent on
    another site, or a circuit that would become its own ancestor."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- sites ---------------------------------------------------------------------------------

    async def add_site(
        self,
        name: str,
        *,
        strategy: str,
        limit_a: tuple[float, float, float],
        household_reserve_a: float = 0.0,
        meter_stale_after_s: int = 60,
        now: datetime,
    ) -> tuple[SiteRecord, CircuitRecord]:
        """A new site and its grid connection (the root circuit, named "grid") with the
        per-phase ``limit_a`` (A on L1, L2, L3). Raises ``Conflict`` if the name is taken."""
        async with self._db.write() as connection:
            await _check_site_name_free(connection, name, None)
            site = to_record(
                SiteRecord,
                (
                    await connection.execute(
                        sa.insert(sites)
                        .values(
                            name=name,
                            strategy=strategy,
                            household_reserve_a=household_reserve_a,
                            meter_stale_after_s=meter_stale_after_s,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(*_SITE_COLUMNS)
                    )
                ).one(),
            )
            grid = await _insert_circuit(
                connection, site.id, GRID_CONNECTION_NAME, None, limit_a, now
            )
        return site, grid

    async def update_site(
        self,
        site_id: int,
        *,
        name: str | None = None,
        strategy: str | None = None,
        household_reserve_a: float | None = None,
        meter_stale_after_s: int | None = None,
        now: datetime,
    ) -> SiteRecord:
        """Change what is given (None: unchanged). Raises ``NotFound``, or ``Conflict`` if the
        new name is another site's."""
        values: dict[str, object] = {"updated_at": now}
        if name is not None:
            values["name"] = name
        if strategy is not None:
            values["strategy"] = strategy
        if household_reserve_a is not None:
            values["household_reserve_a"] = household_reserve_a
        if meter_stale_after_s is not None:
            values["meter_stale_after_s"] = meter_stale_after_s
        statement = (
            sa.update(sites).where(_S.id == site_id).values(**values).returning(*_SITE_COLUMNS)
        )
        async with self._db.write() as connection:
            if name is not None:
                await _check_site_name_free(connection, name, site_id)
            row = (await connection.execute(statement)).first()
            if row is None:
                raise _no_site(site_id)
        return to_record(SiteRecord, row)

    async def delete_site(self, site_id: int) -> SiteRecord:
        """Delete a site with its circuits, its chargers' placements and its readings (the
        chargers stay registered); the deleted site. Raises ``NotFound``."""
        statement = sa.delete(sites).where(_S.id == site_id).returning(*_SITE_COLUMNS)
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise _no_site(site_id)
        return to_record(SiteRecord, row)

    async def list_sites(self) -> list[SiteRecord]:
        """Every site, by name."""
        async with self._db.read() as connection:
            return to_records(
                SiteRecord, await connection.execute(sa.select(*_SITE_COLUMNS).order_by(_S.name))
            )

    async def grid_connections(self) -> dict[int, CircuitRecord]:
        """The grid connection (root circuit) of every site, by site id."""
        statement = sa.select(*_CIRCUIT_COLUMNS).where(_C.parent_id.is_(None))
        async with self._db.read() as connection:
            records = to_records(CircuitRecord, await connection.execute(statement))
        return {record.site_id: record for record in records}

    async def get_site(self, site_id: int) -> SiteRecord:
        """Raises ``NotFound``."""
        rows = await self._db.query(sa.select(*_SITE_COLUMNS).where(_S.id == site_id))
        if not rows:
            raise _no_site(site_id)
        return to_record(SiteRecord, rows[0])

    async def site_by_name(self, name: str) -> SiteRecord:
        """Raises ``NotFound``."""
        rows = await self._db.query(sa.select(*_SITE_COLUMNS).where(_S.name == name))
        if not rows:
            raise NotFound(f"there is no site named {name!r}")
        return to_record(SiteRecord, rows[0])

    # ---- circuits ------------------------------------------------------------------------------

    async def get_circuit(self, circuit_id: int) -> CircuitRecord:
        """Raises ``NotFound``."""
        rows = await self._db.query(sa.select(*_CIRCUIT_COLUMNS).where(_C.id == circuit_id))
        if not rows:
            raise _no_circuit(circuit_id)
        return to_record(CircuitRecord, rows[0])

    async def add_circuit(
        self,
        site_id: int,
        *,
        name: str,
        parent_id: int | None,
        limit_a: tuple[float, float, float],
        now: datetime,
    ) -> CircuitRecord:
        """A sub-board of ``site_id`` hanging from ``parent_id`` (a circuit of the same site).
        Raises ``NotFound`` for an unknown site or parent, ``Conflict`` for a parent on another
        site, a second grid connection (``parent_id`` None) or a name the site has already."""
        async with self._db.write() as connection:
            site_name = await _site_name(connection, site_id)
            if parent_id is None:
                raise Conflict(
                    f"site {site_name!r} has its grid connection already; a circuit needs a "
                    "parent circuit"
                )
            parent = await _circuit(connection, parent_id)
            if parent.site_id != site_id:
                raise Conflict(
                    f"circuit {parent_id} ({parent.name!r}) is on another site, not on site "
                    f"{site_name!r}"
                )
            await _check_circuit_name_free(connection, site_id, site_name, name, None)
            return await _insert_circuit(connection, site_id, name, parent_id, limit_a, now)

    async def update_circuit(
        self,
        circuit_id: int,
        *,
        name: str | None = None,
        limit_a: tuple[float, float, float] | None = None,
        parent_id: int | None = None,
    ) -> CircuitRecord:
        """Rename, change the limits or move a circuit under another of its site (None:
        unchanged). Raises ``NotFound``, or ``Conflict`` for a name taken on the site, a move of
        the grid connection, a parent on another site, or a move under itself or a circuit
        below it."""
        async with self._db.write() as connection:
            circuit = await _circuit(connection, circuit_id)
            values: dict[str, object] = {}
            if parent_id is not None and parent_id != circuit.parent_id:
                await _check_move(connection, circuit, parent_id)
                values["parent_id"] = parent_id
            if name is not None and name != circuit.name:
                site_name = await _site_name(connection, circuit.site_id)
                await _check_circuit_name_free(
                    connection, circuit.site_id, site_name, name, circuit_id
                )
                values["name"] = name
            if limit_a is not None:
                values.update(limit_l1_a=limit_a[0], limit_l2_a=limit_a[1], limit_l3_a=limit_a[2])
            if not values:
                return circuit
            row = (
                await connection.execute(
                    sa.update(circuits)
                    .where(_C.id == circuit_id)
                    .values(**values)
                    .returning(*_CIRCUIT_COLUMNS)
                )
            ).one()
        return to_record(CircuitRecord, row)

    async def delete_circuit(self, circuit_id: int) -> CircuitRecord:
        """Delete a sub-board; the deleted circuit. Raises ``NotFound``, or ``Conflict`` for the
        grid connection (delete the site instead) and while circuits or chargers hang on it."""
        async with self._db.write() as connection:
            circuit = await _circuit(connection, circuit_id)
            if circuit.parent_id is None:
                raise Conflict(
                    f"circuit {circuit_id} is the grid connection of its site; delete the site "
                    "instead"
                )
            children = (
                await connection.execute(sa.select(_C.name).where(_C.parent_id == circuit_id))
            ).scalars()
            if below := sorted(children):
                raise Conflict(
                    f"circuit {circuit.name!r} still has circuits below it "
                    f"({', '.join(below)}); move or delete them first"
                )
            placed = (
                await connection.execute(
                    sa.select(_P.charge_point_id).where(_P.circuit_id == circuit_id)
                )
            ).scalars()
            if chargers := sorted(placed):
                raise Conflict(
                    f"circuit {circuit.name!r} still has chargers on it ({', '.join(chargers)}); "
                    "place them on another circuit or remove their placement first"
                )
            await connection.execute(sa.delete(circuits).where(_C.id == circuit_id))
        return circuit

    # ---- chargers on circuits --------------------------------------------------------------

    async def place_charger(
        self,
        charge_point_id: ChargePointId,
        *,
        circuit_id: int,
        phase_rotation: str,
        priority: int = 0,
        mode: str = "fast",
        now: datetime,
    ) -> PlacementRecord:
        """Hang a charger on a circuit, or move it there (one placement per charger). Raises
        ``NotFound`` for an unknown charge point or circuit."""
        values = {
            "circuit_id": circuit_id,
            "phase_rotation": phase_rotation,
            "priority": priority,
            "mode": mode,
            "placed_at": now,
        }
        statement = (
            dialect_insert(self._db.dialect_name, charger_placements)
            .values(charge_point_id=charge_point_id, **values)
            .on_conflict_do_update(index_elements=[_P.charge_point_id], set_=values)
            .returning(*_PLACEMENT_COLUMNS)
        )
        async with self._db.write() as connection:
            await _check_charge_point(connection, charge_point_id)
            await _circuit(connection, circuit_id)
            row = (await connection.execute(statement)).one()
        return to_record(PlacementRecord, row)

    async def unplace_charger(self, charge_point_id: ChargePointId) -> PlacementRecord | None:
        """Take a charger off its circuit; its placement, or None if it had none."""
        statement = (
            sa.delete(charger_placements)
            .where(_P.charge_point_id == charge_point_id)
            .returning(*_PLACEMENT_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(PlacementRecord, row)

    async def placement_of(
        self, charge_point_id: ChargePointId
    ) -> tuple[PlacementRecord, int] | None:
        """Where a charger hangs and the id of its site; None if it is on no site."""
        rows = await self._db.query(_SELECT_PLACEMENT, {"charge_point_id": charge_point_id})
        if not rows:
            return None
        return to_record(PlacementRecord, rows[0]), int(rows[0].site_id)

    # ---- operator limits -----------------------------------------------------------------------

    async def set_charger_limit(
        self, charge_point_id: ChargePointId, value: float, unit: str, now: datetime
    ) -> ChargerLimitRecord:
        """Set (or replace) the operator's cap of a charger: ``value`` in ``unit`` (A per phase
        or kW). Raises ``NotFound`` for an unknown charge point."""
        values = {"value": value, "unit": unit, "set_at": now}
        statement = (
            dialect_insert(self._db.dialect_name, charger_limits)
            .values(charge_point_id=charge_point_id, **values)
            .on_conflict_do_update(index_elements=[_L.charge_point_id], set_=values)
            .returning(*_LIMIT_COLUMNS)
        )
        async with self._db.write() as connection:
            await _check_charge_point(connection, charge_point_id)
            row = (await connection.execute(statement)).one()
        return to_record(ChargerLimitRecord, row)

    async def clear_charger_limit(
        self, charge_point_id: ChargePointId
    ) -> ChargerLimitRecord | None:
        """Remove the operator's cap; the removed limit, or None if there was none."""
        statement = (
            sa.delete(charger_limits)
            .where(_L.charge_point_id == charge_point_id)
            .returning(*_LIMIT_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_record(ChargerLimitRecord, row)

    async def charger_limit(self, charge_point_id: ChargePointId) -> ChargerLimitRecord | None:
        rows = await self._db.query(_SELECT_LIMIT, {"charge_point_id": charge_point_id})
        return to_record(ChargerLimitRecord, rows[0]) if rows else None

    # ---- what load control reads -----------------------------------------------------------

    async def layout(self, site_id: int) -> SiteLayout:
        """The site, its circuits (by id), the chargers placed on it
        (by circuit, then id) with their operator limits, and its latest readings: two
        statements. Raises ``NotFound``."""
        rows = await self._db.query(_SELECT_LAYOUT, {"site_id": site_id})
        if not rows:
            raise _no_site(site_id)
        readings = await self._db.query(_SELECT_READINGS, {"site_id": site_id})
        first = rows[0]._mapping
        circuit_list: list[CircuitRecord] = []
        placements: list[PlacementRecord] = []
        limits: list[ChargerLimitRecord] = []
        for row in rows:
            mapping = row._mapping
            if mapping["circuit_id"] is None:
                continue
            if not circuit_list or circuit_list[-1].id != mapping["circuit_id"]:
                circuit_list.append(_prefixed(CircuitRecord, mapping, "circuit_"))
            if mapping["placement_charge_point_id"] is not None:
                placements.append(_prefixed(PlacementRecord, mapping, "placement_"))
            if mapping["limit_charge_point_id"] is not None:
                limits.append(_prefixed(ChargerLimitRecord, mapping, "limit_"))
        return SiteLayout(
            site=_prefixed(SiteRecord, first, "site_"),
            circuits=circuit_list,
            placements=placements,
            limits=limits,
            readings=[to_record(SiteReadingRecord, row) for row in readings],
        )

    async def managed_charge_point_ids(self) -> set[ChargePointId]:
        """Chargers load control looks after: placed on a site or given an operator limit."""
        statement = sa.union(sa.select(_P.charge_point_id), sa.select(_L.charge_point_id))
        return {ChargePointId(row[0]) for row in await self._db.query(statement)}

    async def save_reading(self, record: SiteReadingRecord) -> None:
        """Keep ``record`` as the site's latest reading of its kind. Raises ``NotFound`` for an
        unknown site."""
        values = msgspec.structs.asdict(record)
        statement = (
            dialect_insert(self._db.dialect_name, site_readings)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[_RD.site_id, _RD.kind],
                set_={k: v for k, v in values.items() if k not in ("site_id", "kind")},
            )
        )
        async with self._db.write() as connection:
            await _site_name(connection, record.site_id)
            await connection.execute(statement)

    # ---- limit alerts --------------------------------------------------------------------------

    async def raise_alert(
        self,
        charge_point_id: ChargePointId,
        connector_id: int,
        *,
        limit_a: float,
        measured_a: float,
        over_since: datetime,
        explanation: str,
        now: datetime,
    ) -> LimitAlertRecord:
        """Record that a connector drew ``measured_a`` above its ``limit_a`` since
        ``over_since``; open until :meth:`clear_alerts`."""
        statement = (
            sa.insert(limit_alerts)
            .values(
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                limit_a=limit_a,
                measured_a=measured_a,
                over_since=over_since,
                raised_at=now,
                explanation=explanation,
            )
            .returning(*_ALERT_COLUMNS)
        )
        async with self._db.write() as connection:
            return to_record(LimitAlertRecord, (await connection.execute(statement)).one())

    async def clear_alerts(
        self, charge_point_id: ChargePointId, connector_id: int, now: datetime
    ) -> int:
        """Close the connector's open alerts (it keeps to its limit again); how many."""
        statement = (
            sa.update(limit_alerts)
            .where(
                _A.charge_point_id == charge_point_id,
                _A.connector_id == connector_id,
                _A.cleared_at.is_(None),
            )
            .values(cleared_at=now)
        )
        async with self._db.write() as connection:
            return (await connection.execute(statement)).rowcount

    async def list_alerts(
        self,
        charge_point_id: ChargePointId | str | None,
        *,
        open_only: bool,
        limit: int | None = None,
        before_id: int | None = None,
    ) -> list[LimitAlertRecord]:
        """Alerts, newest first: of one charger or all, only the open ones or every one."""
        statement = sa.select(*_ALERT_COLUMNS).order_by(_A.id.desc())
        if charge_point_id is not None:
            statement = statement.where(_A.charge_point_id == charge_point_id)
        if open_only:
            statement = statement.where(_A.cleared_at.is_(None))
        if before_id is not None:  # the next page (cursor pagination)
            statement = statement.where(_A.id < before_id)
        if limit is not None:
            statement = statement.limit(limit)
        async with self._db.read() as connection:
            return to_records(LimitAlertRecord, await connection.execute(statement))

    # ---- charging mode of a session ----------------------------------------------------------

    async def set_transaction_mode(self, transaction_id: int, mode: str | None) -> None:
        """The session's own charging mode (fast, min_solar, solar), or None for the one of its
        charger's placement. Raises ``NotFound`` for an unknown transaction."""
        statement = (
            sa.update(transactions)
            .where(transactions.c.id == transaction_id)
            .values(charging_mode=mode)
        )
        async with self._db.write() as connection:
            if (await connection.execute(statement)).rowcount == 0:
                raise NotFound(f"there is no transaction {transaction_id}")

    async def transaction_modes(
        self, transaction_ids: Iterable[int | TransactionId]
    ) -> dict[int, str]:
        """The sessions of ``transaction_ids`` that have a mode of their own, and that mode."""
        ids = list(transaction_ids)
        if not ids:
            return {}
        statement = sa.select(transactions.c.id, transactions.c.charging_mode).where(
            transactions.c.id.in_(ids), transactions.c.charging_mode.is_not(None)
        )
        return {int(row.id): str(row.charging_mode) for row in await self._db.query(statement)}


# ---- checks inside a write transaction ----------------------------------------------------------


async def _site_name(connection: AsyncConnection, site_id: int) -> str:
    name = (await connection.execute(sa.select(_S.name).where(_S.id == site_id))).scalar()
    if name is None:
        raise _no_site(site_id)
    return str(name)


async def _circuit(connection: AsyncConnection, circuit_id: int) -> CircuitRecord:
    row = (
        await connection.execute(sa.select(*_CIRCUIT_COLUMNS).where(_C.id == circuit_id))
    ).first()
    if row is None:
        raise _no_circuit(circuit_id)
    return to_record(CircuitRecord, row)


async def _check_charge_point(connection: AsyncConnection, charge_point_id: str) -> None:
    found = await connection.execute(
        sa.select(charge_points.c.id).where(charge_points.c.id == charge_point_id)
    )
    if found.first() is None:
        raise _unknown_charge_point(charge_point_id)


async def _check_site_name_free(
    connection: AsyncConnection, name: str, site_id: int | None
) -> None:
    statement = sa.select(_S.id).where(_S.name == name)
    if site_id is not None:
        statement = statement.where(_S.id != site_id)
    if (await connection.execute(statement)).first() is not None:
        raise Conflict(f"there is a site named {name!r} already")


async def _check_circuit_name_free(
    connection: AsyncConnection, site_id: int, site_name: str, name: str, circuit_id: int | None
) -> None:
    statement = sa.select(_C.id).where(_C.site_id == site_id, _C.name == name)
    if circuit_id is not None:
        statement = statement.where(_C.id != circuit_id)
    if (await connection.execute(statement)).first() is not None:
        raise Conflict(f"site {site_name!r} has a circuit named {name!r} already")


async def _check_move(connection: AsyncConnection, circuit: CircuitRecord, parent_id: int) -> None:
    """Whether ``circuit`` may hang from ``parent_id``: not the grid connection, a parent on
    the same site that is neither the circuit nor below it (the tree stays a tree)."""
    if circuit.parent_id is None:
        raise Conflict(
            f"circuit {circuit.id} is the grid connection of its site; it hangs from nothing"
        )
    parent = await _circuit(connection, parent_id)
    if parent.site_id != circuit.site_id:
        raise Conflict(
            f"circuit {parent_id} ({parent.name!r}) is on another site than circuit "
            f"{circuit.id} ({circuit.name!r})"
        )
    rows = await connection.execute(
        sa.select(_C.id, _C.parent_id).where(_C.site_id == circuit.site_id)
    )
    parents: dict[int, int | None] = {row.id: row.parent_id for row in rows}
    ancestor: int | None = parent_id
    while ancestor is not None:
        if ancestor == circuit.id:
            raise Conflict(
                f"circuit {circuit.name!r} cannot hang from {parent.name!r}: "
                f"{'that is itself' if parent_id == circuit.id else 'that is below it'}"
            )
        ancestor = parents.get(ancestor)


async def _insert_circuit(
    connection: AsyncConnection,
    site_id: int,
    name: str,
    parent_id: int | None,
    limit_a: Sequence[float],
    now: datetime,
) -> CircuitRecord:
    statement = (
        sa.insert(circuits)
        .values(
            site_id=site_id,
            parent_id=parent_id,
            name=name,
            limit_l1_a=limit_a[0],
            limit_l2_a=limit_a[1],
            limit_l3_a=limit_a[2],
            created_at=now,
        )
        .returning(*_CIRCUIT_COLUMNS)
    )
    return to_record(CircuitRecord, (await connection.execute(statement)).one())
