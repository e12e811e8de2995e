"""Load control over real sockets (issue 6): the operator's own limit in A or kW, and the alert for
a charger that keeps drawing above its limit (field notes Q6: firmwares that accept a profile and
ignore it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, IdTag
from chargedeck.store import open_store
from chargedeck.store.configuration import ReportedKey
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server
from tests.support.site_charger import SiteCharger, id_tag_of, open_limit_alerts, until

SOLO_FUSE_A = 10.0


async def _register(database_url: str, placed: str, unplaced: str, single: str) -> None:
    """``placed`` alone on a 10 A site; ``unplaced`` on no site; ``single`` alone on a 16 A site,
    a charger that reported MaxChargingProfilesInstalled = 1."""
    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        _site, grid = await store.sites.add_site(
            "solo", strategy="equal", limit_a=(SOLO_FUSE_A,) * 3, now=now
        )
        _one, one_grid = await store.sites.add_site(
            "one", strategy="equal", limit_a=(16.0,) * 3, now=now
        )
        for charge_point_id in (placed, unplaced, single):
            await store.id_tags.add_id_tag(IdTag(id_tag_of(charge_point_id)), now=now)
            await store.charge_points.add_charge_point(
                ChargePointId(charge_point_id), Registration.REGISTERED, now
            )
        await store.sites.place_charger(
            ChargePointId(placed), circuit_id=grid.id, phase_rotation="L1L2L3", now=now
        )
        await store.sites.place_charger(
            ChargePointId(single), circuit_id=one_grid.id, phase_rotation="L1L2L3", now=now
        )
        await store.configuration.store_reported(
            ChargePointId(single),
            [ReportedKey(key="MaxChargingProfilesInstalled", value="1", readonly=True)],
            now=now,
        )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def limits_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, str, str, str]]:
    folder: Path = tmp_path_factory.mktemp("limits")
    placed, unplaced = f"PL-{uuid.uuid4().hex[:6]}", f"UN-{uuid.uuid4().hex[:6]}"
    single = f"SP-{uuid.uuid4().hex[:6]}"
    database_url = f"sqlite:///{folder / 'chargedeck.db'}"
    asyncio.run(_register(database_url, placed, unplaced, single))
    args = [
        "--load-control-debounce-s",
        "0.2",
        "--limit-min-interval-s",
        "0",
        "--limit-alert-window-s",
        "1",
    ]
    with running_server(database_url, args, folder) as server:
        yield server, placed, unplaced, single
        assert server.error_lines() == [], server.log_text()


async def _alert_scenario(server: ServerProcess, charge_point_id: str) -> None:
    async with library_charger(server.ocpp_url, charge_point_id, SiteCharger) as charger:
        await charger.boot()
        await charger.start_charging()
        await until(lambda: charger.tx_profile_a == SOLO_FUSE_A, "the car holds 10 A")
        # It ignores the limit: 16 A on each phase, sample after sample, for over the window.
        await charger.draw(16.0, 16.0, 16.0)
        await asyncio.sleep(1.3)
        await charger.draw(16.0, 16.0, 16.0)
        deadline = asyncio.get_running_loop().time() + 15.0
        alerts = await open_limit_alerts(server, charge_point_id)
        while not alerts and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            alerts = await open_limit_alerts(server, charge_point_id)
        (alert,) = alerts
        assert alert["limit_a"] == SOLO_FUSE_A
        assert alert["measured_a"] == 16.0
        assert "draws 16 A against a limit of 10 A" in str(alert["explanation"])
        # Back within its limit (plus the 1 A margin): the alert is cleared.
        await charger.draw(10.5, 10.5, 10.5)
        while alerts and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            alerts = await open_limit_alerts(server, charge_point_id)
        assert alerts == []
    assert "does not honour its limit" in server.log_text()


def test_a_charger_that_keeps_drawing_above_its_limit_raises_an_alert_until_it_obeys(
    limits_server: tuple[ServerProcess, str, str, str],
) -> None:
    server, placed, _, _ = limits_server
    asyncio.run(_alert_scenario(server, placed))


async def _operator_limit_scenario(server: ServerProcess, charge_point_id: str) -> None:
    async with library_charger(server.ocpp_url, charge_point_id, SiteCharger) as charger:
        await charger.boot()
        async with server.async_api_client() as api:
            answer = await api.put(
                f"/charge-points/{charge_point_id}/limit", json={"value": 11, "unit": "kW"}
            )
            assert answer.status_code == 200, answer.text
        # 11 kW over three phases at 230 V = 15.94 A, down to the 0.1 A step.
        await until(lambda: charger.tx_default_a == 15.9, "TxDefaultProfile 15.9 A")

        # The car turns out to charge on one phase only: the same kW is 47.8 A on that phase.
        await charger.start_charging()
        await charger.draw(12.0, 0.0, 0.0)
        async with server.async_api_client() as api:
            answer = await api.put(
                f"/charge-points/{charge_point_id}/limit", json={"value": 7.4, "unit": "kW"}
            )
            assert answer.status_code == 200, answer.text
        # 7.4 kW on one phase at 230 V = 32.17 A.
        await until(lambda: charger.tx_default_a == 32.1, "TxDefaultProfile 32.1 A")
        async with server.async_api_client() as api:
            answer = await api.get(f"/charge-points/{charge_point_id}/effective-limits")
        (connector,) = answer.json()["items"]
        assert "operator limit 7.4 kW = 32.2 A on 1 phase at 230 V" in connector["steps"]

        async with server.async_api_client() as api:
            answer = await api.delete(f"/charge-points/{charge_point_id}/limit")
            assert answer.status_code == 200, answer.text
        await until(
            lambda: any(action == "ClearChargingProfile" for action, _ in charger.received),
            "the operator's limit is cleared from the charger",
        )


def test_an_operator_limit_in_kw_becomes_amps_for_the_phases_the_car_uses(
    limits_server: tuple[ServerProcess, str, str, str],
) -> None:
    server, _, unplaced, _ = limits_server
    asyncio.run(_operator_limit_scenario(server, unplaced))


async def _single_profile_scenario(server: ServerProcess, charge_point_id: str) -> None:
    async with library_charger(server.ocpp_url, charge_point_id, SiteCharger) as charger:
        await charger.boot()
        await until(lambda: charger.tx_default_a == 16.0, "the fail-safe 16 A")
        await charger.start_charging()
        # Its one profile becomes the transaction's limit: same id, TxDefaultProfile, no lease.
        await until(lambda: charger.tx_default_a == 16.0 and charger.profiles_set >= 2, "limit")
        assert charger.tx_profile_a is None
        await charger.stop_charging()
        await until(lambda: charger.profiles_set >= 3, "the fail-safe sent again")
        assert charger.tx_default_a == 16.0
        assert set(charger.profile_ids) == {1}


def test_a_charger_that_holds_one_profile_gets_its_limit_in_place_of_the_fail_safe(
    limits_server: tuple[ServerProcess, str, str, str],
) -> None:
    server, _, _, single = limits_server
    asyncio.run(_single_profile_scenario(server, single))
