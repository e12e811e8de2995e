"""Sites, circuit trees, placements, operator limits, readings, alerts and session modes (issue 6,
DESIGN §7), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, ConnectorId, IdTag, TransactionId
from chargedeck.store import Store
from chargedeck.store.errors import Conflict, NotFound
from chargedeck.store.records import StartTransactionRecord
from chargedeck.store.sites import CircuitRecord, SiteReadingRecord, SiteRecord

CP1 = ChargePointId("CP1")
CP2 = ChargePointId("CP2")
THREE_PHASE_32 = (32.0, 32.0, 32.0)


async def add_site(
    store: Store,
    now: datetime,
    name: str = "home",
    limit_a: tuple[float, float, float] = (25.0,) * 3,
) -> tuple[SiteRecord, CircuitRecord]:
    return await store.sites.add_site(name, strategy="equal", limit_a=limit_a, now=now)


async def add_charge_points(store: Store, now: datetime, *ids: ChargePointId) -> None:
    for charge_point_id in ids:
        await store.charge_points.add_charge_point(charge_point_id, Registration.REGISTERED, now)


async def add_board(
    store: Store, now: datetime, site_id: int, parent_id: int, name: str = "garage"
) -> CircuitRecord:
    return await store.sites.add_circuit(
        site_id, name=name, parent_id=parent_id, limit_a=(16.0, 16.0, 16.0), now=now
    )


# ---- sites -----------------------------------------------------------------------------------


async def test_a_new_site_comes_with_its_grid_connection(store: Store, now: datetime) -> None:
    site, grid = await store.sites.add_site(
        "home",
        strategy="priority",
        limit_a=(25.0, 0.0, 0.0),
        household_reserve_a=4.5,
        meter_stale_after_s=30,
        now=now,
    )
    assert (site.name, site.strategy, site.household_reserve_a, site.meter_stale_after_s) == (
        "home",
        "priority",
        4.5,
        30,
    )
    assert site.created_at == site.updated_at == now
    assert (grid.site_id, grid.parent_id, grid.name) == (site.id, None, "grid")
    assert (grid.limit_l1_a, grid.limit_l2_a, grid.limit_l3_a) == (25.0, 0.0, 0.0)
    assert await store.sites.get_site(site.id) == site
    assert await store.sites.site_by_name("home") == site


async def test_a_second_site_of_the_same_name_is_a_conflict(store: Store, now: datetime) -> None:
    await add_site(store, now)
    with pytest.raises(Conflict, match="there is a site named 'home' already"):
        await add_site(store, now)
    assert len(await store.sites.list_sites()) == 1


async def test_sites_are_listed_by_name_with_their_grid_connections(
    store: Store, now: datetime
) -> None:
    b, b_grid = await add_site(store, now, "b")
    a, a_grid = await add_site(store, now, "a", THREE_PHASE_32)
    assert [s.name for s in await store.sites.list_sites()] == ["a", "b"]
    assert await store.sites.grid_connections() == {a.id: a_grid, b.id: b_grid}


async def test_an_update_changes_only_what_is_given(store: Store, now: datetime) -> None:
    site, _ = await add_site(store, now)
    later = now + timedelta(minutes=1)
    updated = await store.sites.update_site(site.id, household_reserve_a=6.0, now=later)
    assert updated == msgspec.structs.replace(site, household_reserve_a=6.0, updated_at=later)
    renamed = await store.sites.update_site(
        site.id, name="house", strategy="first_come", meter_stale_after_s=10, now=later
    )
    assert (renamed.name, renamed.strategy, renamed.meter_stale_after_s) == (
        "house",
        "first_come",
        10,
    )


async def test_renaming_a_site_to_another_sites_name_is_a_conflict(
    store: Store, now: datetime
) -> None:
    await add_site(store, now, "home")
    other, _ = await add_site(store, now, "office")
    with pytest.raises(Conflict, match="'home' already"):
        await store.sites.update_site(other.id, name="home", now=now)
    assert (await store.sites.update_site(other.id, name="office", now=now)).name == "office"


async def test_unknown_sites_are_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound, match="there is no site 99"):
        await store.sites.get_site(99)
    with pytest.raises(NotFound, match="there is no site named 'nowhere'"):
        await store.sites.site_by_name("nowhere")
    with pytest.raises(NotFound, match="there is no site 99"):
        await store.sites.update_site(99, name="x", now=now)
    with pytest.raises(NotFound, match="there is no site 99"):
        await store.sites.delete_site(99)
    with pytest.raises(NotFound, match="there is no site 99"):
        await store.sites.layout(99)


async def test_deleting_a_site_removes_its_tree_placements_and_readings_not_its_chargers(
    store: Store, now: datetime
) -> None:
    site, grid = await add_site(store, now)
    board = await add_board(store, now, site.id, grid.id)
    await add_charge_points(store, now, CP1)
    await store.sites.place_charger(CP1, circuit_id=board.id, phase_rotation="L1", now=now)
    await store.sites.save_reading(grid_reading(site.id, now))
    assert (await store.sites.delete_site(site.id)).name == "home"
    assert await store.sites.list_sites() == []
    assert await store.sites.placement_of(CP1) is None
    with pytest.raises(NotFound):
        await store.sites.get_circuit(board.id)
    assert await store.charge_points.get_charge_point(CP1) is not None
    again, _ = await add_site(store, now)
    assert (await store.sites.layout(again.id)).readings == []


# ---- circuits --------------------------------------------------------------------------------


async def test_a_circuit_hangs_from_a_circuit_of_its_site(store: Store, now: datetime) -> None:
    site, grid = await add_site(store, now)
    board = await store.sites.add_circuit(
        site.id, name="garage", parent_id=grid.id, limit_a=(16.0, 16.0, 0.0), now=now
    )
    assert (board.site_id, board.parent_id, board.name) == (site.id, grid.id, "garage")
    assert (board.limit_l1_a, board.limit_l2_a, board.limit_l3_a) == (16.0, 16.0, 0.0)
    assert await store.sites.get_circuit(board.id) == board


async def test_a_second_grid_connection_is_refused(store: Store, now: datetime) -> None:
    site, _ = await add_site(store, now)
    with pytest.raises(Conflict, match="has its grid connection already"):
        await store.sites.add_circuit(
            site.id, name="second", parent_id=None, limit_a=THREE_PHASE_32, now=now
        )


async def test_a_parent_on_another_site_is_refused(store: Store, now: datetime) -> None:
    site, _ = await add_site(store, now, "home")
    _, other_grid = await add_site(store, now, "office")
    with pytest.raises(Conflict, match="is on another site, not on site 'home'"):
        await add_board(store, now, site.id, other_grid.id)


async def test_unknown_site_or_parent_of_a_circuit_is_not_found(
    store: Store, now: datetime
) -> None:
    site, grid = await add_site(store, now)
    with pytest.raises(NotFound, match="there is no site 99"):
        await add_board(store, now, 99, grid.id)
    with pytest.raises(NotFound, match="there is no circuit 99"):
        await add_board(store, now, site.id, 99)


async def test_circuit_names_are_unique_per_site(store: Store, now: datetime) -> None:
    site, grid = await add_site(store, now, "home")
    other, other_grid = await add_site(store, now, "office")
    await add_board(store, now, site.id, grid.id, "garage")
    with pytest.raises(Conflict, match="site 'home' has a circuit named 'garage' already"):
        await add_board(store, now, site.id, grid.id, "garage")
    with pytest.raises(Conflict, match="named 'grid' already"):
        await add_board(store, now, site.id, grid.id, "grid")
    assert (await add_board(store, now, other.id, other_grid.id, "garage")).site_id == other.id


async def test_a_circuit_is_renamed_limited_and_moved(store: Store, now: datetime) -> None:
    site, grid = await add_site(store, now)
    garage = await add_board(store, now, site.id, grid.id, "garage")
    carport = await add_board(store, now, site.id, grid.id, "carport")
    moved = await store.sites.update_circuit(
        carport.id, name="carport east", limit_a=(10.0, 10.0, 10.0), parent_id=garage.id
    )
    assert (moved.name, moved.parent_id, moved.limit_l2_a) == ("carport east", garage.id, 10.0)
    assert await store.sites.update_circuit(moved.id) == moved
    grid_now = await store.sites.update_circuit(grid.id, limit_a=(40.0, 40.0, 40.0))
    assert (grid_now.parent_id, grid_now.limit_l1_a) == (None, 40.0)


async def test_a_circuit_cannot_hang_from_itself_or_below_itself(
    store: Store, now: datetime
) -> None:
    site, grid = await add_site(store, now)
    garage = await add_board(store, now, site.id, grid.id, "garage")
    wallbox_row = await add_board(store, now, site.id, garage.id, "row")
    with pytest.raises(Conflict, match="cannot hang from 'row': that is below it"):
        await store.sites.update_circuit(garage.id, parent_id=wallbox_row.id)
    with pytest.raises(Conflict, match="that is itself"):
        await store.sites.update_circuit(garage.id, parent_id=garage.id)
    with pytest.raises(Conflict, match="grid connection of its site; it hangs from nothing"):
        await store.sites.update_circuit(grid.id, parent_id=garage.id)
    assert (await store.sites.get_circuit(garage.id)).parent_id == grid.id


async def test_a_circuit_cannot_move_to_another_site(store: Store, now: datetime) -> None:
    site, grid = await add_site(store, now, "home")
    _, other_grid = await add_site(store, now, "office")
    garage = await add_board(store, now, site.id, grid.id)
    with pytest.raises(Conflict, match="is on another site"):
        await store.sites.update_circuit(garage.id, parent_id=other_grid.id)


async def test_renaming_a_circuit_to_a_taken_name_is_a_conflict(
    store: Store, now: datetime
) -> None:
    site, grid = await add_site(store, now)
    garage = await add_board(store, now, site.id, grid.id, "garage")
    with pytest.raises(Conflict, match="named 'grid' already"):
        await store.sites.update_circuit(garage.id, name="grid")


async def test_the_grid_connection_is_not_deleted_alone(store: Store, now: datetime) -> None:
    _, grid = await add_site(store, now)
    with pytest.raises(Conflict, match="grid connection of its site; delete the site instead"):
        await store.sites.delete_circuit(grid.id)


async def test_a_circuit_with_circuits_or_chargers_on_it_is_not_deleted(
    store: Store, now: datetime
) -> None:
    site, grid = await add_site(store, now)
    garage = await add_board(store, now, site.id, grid.id, "garage")
    row = await add_board(store, now, site.id, garage.id, "row")
    await add_charge_points(store, now, CP1)
    await store.sites.place_charger(CP1, circuit_id=row.id, phase_rotation="L1L2L3", now=now)
    with pytest.raises(Conflict, match=r"'garage' still has circuits below it \(row\)"):
        await store.sites.delete_circuit(garage.id)
    with pytest.raises(Conflict, match=r"'row' still has chargers on it \(CP1\)"):
        await store.sites.delete_circuit(row.id)
    await store.sites.unplace_charger(CP1)
    assert await store.sites.delete_circuit(row.id) == row
    assert await store.sites.delete_circuit(garage.id) == garage
    with pytest.raises(NotFound, match=f"there is no circuit {garage.id}"):
        await store.sites.delete_circuit(garage.id)


# ---- placements and operator limits ------------------------------------------------------------


async def test_placing_a_charger_again_moves_it(store: Store, now: datetime) -> None:
    site, grid = await add_site(store, now)
    garage = await add_board(store, now, site.id, grid.id)
    await add_charge_points(store, now, CP1)
    first = await store.sites.place_charger(CP1, circuit_id=grid.id, phase_rotation="L1", now=now)
    assert (first.circuit_id, first.phase_rotation, first.priority, first.mode) == (
        grid.id,
        "L1",
        0,
        "fast",
    )
    later = now + timedelta(minutes=1)
    moved = await store.sites.place_charger(
        CP1, circuit_id=garage.id, phase_rotation="L2L3L1", priority=5, mode="solar", now=later
    )
    assert (moved.circuit_id, moved.phase_rotation, moved.priority, moved.mode) == (
        garage.id,
        "L2L3L1",
        5,
        "solar",
    )
    assert moved.placed_at == later
    assert await store.sites.placement_of(CP1) == (moved, site.id)


async def test_placing_an_unknown_charger_or_on_an_unknown_circuit_is_not_found(
    store: Store, now: datetime
) -> None:
    _, grid = await add_site(store, now)
    with pytest.raises(NotFound, match="charge point 'CP1' is not known"):
        await store.sites.place_charger(CP1, circuit_id=grid.id, phase_rotation="L1", now=now)
    await add_charge_points(store, now, CP1)
    with pytest.raises(NotFound, match="there is no circuit 99"):
        await store.sites.place_charger(CP1, circuit_id=99, phase_rotation="L1", now=now)


async def test_unplacing_answers_the_placement_it_removed(store: Store, now: datetime) -> None:
    _, grid = await add_site(store, now)
    await add_charge_points(store, now, CP1)
    placed = await store.sites.place_charger(CP1, circuit_id=grid.id, phase_rotation="L3", now=now)
    assert await store.sites.unplace_charger(CP1) == placed
    assert await store.sites.unplace_charger(CP1) is None
    assert await store.sites.placement_of(CP1) is None


async def test_an_operator_limit_is_set_replaced_and_cleared(store: Store, now: datetime) -> None:
    await add_charge_points(store, now, CP1)
    assert await store.sites.charger_limit(CP1) is None
    await store.sites.set_charger_limit(CP1, 16.0, "A", now)
    later = now + timedelta(minutes=1)
    replaced = await store.sites.set_charger_limit(CP1, 11.0, "kW", later)
    assert (replaced.value, replaced.unit, replaced.set_at) == (11.0, "kW", later)
    assert await store.sites.charger_limit(CP1) == replaced
    assert await store.sites.clear_charger_limit(CP1) == replaced
    assert await store.sites.clear_charger_limit(CP1) is None
    assert await store.sites.charger_limit(CP1) is None


async def test_managed_chargers_are_those_placed_or_limited(store: Store, now: datetime) -> None:
    _, grid = await add_site(store, now)
    await add_charge_points(store, now, CP1, CP2, ChargePointId("PLAIN"))
    assert await store.sites.managed_charge_point_ids() == set()
    await store.sites.place_charger(CP1, circuit_id=grid.id, phase_rotation="L1", now=now)
    await store.sites.set_charger_limit(CP1, 16.0, "A", now)
    await store.sites.set_charger_limit(CP2, 16.0, "A", now)
    assert await store.sites.managed_charge_point_ids() == {CP1, CP2}


async def test_a_limit_for_an_unknown_charger_is_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound, match="charge point 'CP9' is not known"):
        await store.sites.set_charger_limit(ChargePointId("CP9"), 16.0, "A", now)


# ---- layout and readings -----------------------------------------------------------------------


def grid_reading(site_id: int, at: datetime, l1_a: float = 9.0) -> SiteReadingRecord:
    return SiteReadingRecord(
        site_id=site_id,
        kind="grid",
        l1_a=l1_a,
        l2_a=-2.5,
        l3_a=0.0,
        power_w=None,
        source="api",
        measured_at=at,
        received_at=at,
    )


async def test_the_layout_holds_the_tree_placements_their_limits_and_readings(
    store: Store, now: datetime
) -> None:
    site, grid = await add_site(store, now)
    garage = await add_board(store, now, site.id, grid.id)
    empty = await add_board(store, now, site.id, grid.id, "empty")
    other, other_grid = await add_site(store, now, "office")
    await add_charge_points(store, now, CP1, CP2, ChargePointId("ELSEWHERE"))
    p1 = await store.sites.place_charger(CP1, circuit_id=garage.id, phase_rotation="L1", now=now)
    p2 = await store.sites.place_charger(
        CP2, circuit_id=garage.id, phase_rotation="L1L2L3", now=now
    )
    await store.sites.place_charger(
        ChargePointId("ELSEWHERE"), circuit_id=other_grid.id, phase_rotation="L1", now=now
    )
    limit = await store.sites.set_charger_limit(CP2, 10.0, "A", now)
    await store.sites.set_charger_limit(ChargePointId("ELSEWHERE"), 6.0, "A", now)
    reading = grid_reading(site.id, now)
    await store.sites.save_reading(reading)

    layout = await store.sites.layout(site.id)

    assert layout.site == site
    assert layout.circuits == [grid, garage, empty]
    assert layout.placements == [p1, p2]
    assert layout.limits == [limit]
    assert layout.readings == [reading]
    assert (await store.sites.layout(other.id)).circuits == [other_grid]


async def test_a_reading_replaces_the_previous_one_of_its_kind(store: Store, now: datetime) -> None:
    site, _ = await add_site(store, now)
    await store.sites.save_reading(grid_reading(site.id, now))
    later = now + timedelta(seconds=5)
    newer = grid_reading(site.id, later, l1_a=12.0)
    solar = SiteReadingRecord(
        site_id=site.id,
        kind="solar",
        l1_a=None,
        l2_a=None,
        l3_a=None,
        power_w=4200.0,
        source="mqtt",
        measured_at=later,
        received_at=later,
    )
    await store.sites.save_reading(newer)
    await store.sites.save_reading(solar)
    assert (await store.sites.layout(site.id)).readings == [newer, solar]


async def test_a_reading_of_an_unknown_site_is_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound, match="there is no site 99"):
        await store.sites.save_reading(grid_reading(99, now))


# ---- limit alerts ------------------------------------------------------------------------------


async def test_alerts_are_raised_listed_newest_first_and_cleared(
    store: Store, now: datetime
) -> None:
    async def alert(charge_point_id: ChargePointId, connector_id: int, at: datetime) -> object:
        return await store.sites.raise_alert(
            charge_point_id,
            connector_id,
            limit_a=10.0,
            measured_a=15.2,
            over_since=at - timedelta(minutes=2),
            explanation="drew 15.2 A for 2 min above its limit of 10 A",
            now=at,
        )

    first = await alert(CP1, 1, now)
    second = await alert(CP1, 2, now + timedelta(seconds=1))
    third = await alert(CP2, 1, now + timedelta(seconds=2))
    assert await store.sites.list_alerts(None, open_only=True) == [third, second, first]
    assert await store.sites.list_alerts(CP1, open_only=True) == [second, first]

    cleared_at = now + timedelta(minutes=5)
    assert await store.sites.clear_alerts(CP1, 1, cleared_at) == 1
    assert await store.sites.clear_alerts(CP1, 1, cleared_at) == 0
    assert await store.sites.list_alerts(CP1, open_only=True) == [second]
    [_, cleared] = await store.sites.list_alerts(CP1, open_only=False)
    assert cleared.cleared_at == cleared_at
    assert (cleared.limit_a, cleared.measured_a, cleared.explanation) == (
        10.0,
        15.2,
        "drew 15.2 A for 2 min above its limit of 10 A",
    )


# ---- session modes ---------------------------------------------------------------------------


async def start(store: Store, now: datetime, connector: int) -> TransactionId:
    transaction_id, _ = await store.transactions.start_transaction(
        StartTransactionRecord(
            charge_point_id=CP1,
            connector_id=ConnectorId(connector),
            id_tag=IdTag("TAG"),
            meter_start=0,
            started_at=now,
            start_id_tag_status="Accepted",
        ),
        now,
    )
    return transaction_id


async def test_a_session_mode_overrides_the_placement_until_set_back_to_none(
    store: Store, now: datetime
) -> None:
    await add_charge_points(store, now, CP1)
    solar = await start(store, now, 1)
    plain = await start(store, now, 2)
    assert await store.sites.transaction_modes([]) == {}
    await store.sites.set_transaction_mode(solar, "solar")
    assert await store.sites.transaction_modes([solar, plain, 999]) == {solar: "solar"}
    await store.sites.set_transaction_mode(solar, None)
    assert await store.sites.transaction_modes([solar, plain]) == {}


async def test_the_mode_of_an_unknown_session_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="there is no transaction 999"):
        await store.sites.set_transaction_mode(999, "fast")
