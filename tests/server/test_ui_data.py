"""The data the web UI plots (server/api/ui_data.py), against a real ``chargedeck serve`` with
PyPI ``ocpp`` chargers: a session's power and energy series, a site's live load per circuit and
phase, and the effective settings without secrets."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, IdTag
from chargedeck.server.api.ui_data import shown_setting
from chargedeck.store import open_store
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, bearer, create_api_token, running_server
from tests.support.site_charger import SiteCharger, id_tag_of, until

GRID_A = 32.0
GARAGE_A = 16.0


async def _setup(database_url: str, garage_charger: str, grid_charger: str) -> int:
    """Site "home" (32 A) with a 16 A "garage" board: one three-phase charger in the garage,
    one single-phase charger wired to grid L2 on the main board. Answers the site id."""
    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        site, grid = await store.sites.add_site(
            "home", strategy="equal", limit_a=(GRID_A, GRID_A, GRID_A), now=now
        )
        garage = await store.sites.add_circuit(
            site.id,
            name="garage",
            parent_id=grid.id,
            limit_a=(GARAGE_A, GARAGE_A, GARAGE_A),
            now=now,
        )
        for charge_point_id, circuit_id, rotation in (
            (garage_charger, garage.id, "L1L2L3"),
            (grid_charger, grid.id, "L2"),
        ):
            await store.id_tags.add_id_tag(IdTag(id_tag_of(charge_point_id)), now=now)
            await store.charge_points.add_charge_point(
                ChargePointId(charge_point_id), Registration.REGISTERED, now
            )
            await store.sites.place_charger(
                ChargePointId(charge_point_id),
                circuit_id=circuit_id,
                phase_rotation=rotation,
                now=now,
            )
        return site.id
    finally:
        await store.close()


@pytest.fixture
def site_server(tmp_path: Path) -> Any:
    ids = (f"UI-{uuid.uuid4().hex[:6]}-G", f"UI-{uuid.uuid4().hex[:6]}-M")
    database_url = f"sqlite:///{tmp_path / 'chargedeck.db'}"
    site_id = asyncio.run(_setup(database_url, *ids))
    args = ["--load-control-debounce-s", "0.1", "--limit-min-interval-s", "0"]
    with running_server(database_url, args, tmp_path) as server:
        yield server, site_id, ids
        assert server.error_lines() == [], server.log_text()


def _sample(value: str, measurand: str, unit: str, phase: str | None = None) -> dict[str, str]:
    sample = {"value": value, "measurand": measurand, "unit": unit}
    if phase is not None:
        sample["phase"] = phase
    return sample


async def _meter_value(charger: SiteCharger, at: datetime, samples: list[dict[str, str]]) -> None:
    await charger.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=charger.transaction_id,
            meter_value=[{"timestamp": at.isoformat(), "sampled_value": samples}],
        )
    )


def _phases(circuit: dict[str, Any], field: str) -> list[float]:
    return [phase[field] for phase in circuit["phases"]]


async def _scenario(server: ServerProcess, site_id: int, ids: tuple[str, str]) -> None:
    async with (
        library_charger(server.ocpp_url, ids[0], SiteCharger) as garage,
        library_charger(server.ocpp_url, ids[1], SiteCharger) as main,
        server.async_api_client() as api,
    ):
        for charger in (garage, main):
            await charger.boot()
            await charger.start_charging()
        await until(
            lambda: garage.tx_profile_a is not None and main.tx_profile_a is not None,
            "both sessions have a limit",
        )
        await garage.draw(10.0, 10.0, 9.5)

        # The single-phase charger's session: the register only, then power, current and SoC.
        start = datetime.now(UTC) - timedelta(minutes=10)
        await _meter_value(main, start, [_sample("1000", "Energy.Active.Import.Register", "Wh")])
        await _meter_value(
            main,
            start + timedelta(seconds=60),
            [_sample("1.5", "Energy.Active.Import.Register", "kWh")],
        )
        await _meter_value(
            main,
            start + timedelta(seconds=120),
            [
                _sample("2250", "Energy.Active.Import.Register", "Wh"),
                _sample("1.61", "Power.Active.Import", "kW"),
                _sample("7", "Current.Import", "A", "L1"),
                _sample("40", "SoC", "Percent"),
            ],
        )
        series = await _get(api, f"/transactions/{main.transaction_id}/series")
        check_series_of_a_session(series, main.transaction_id)
        thinned = await _get(api, f"/transactions/{main.transaction_id}/series?max_points=2")
        assert thinned["sampled"] == 3
        assert [p["register_wh"] for p in thinned["points"]] == [1000.0, 2250.0]

        await _post(
            api,
            f"/sites/{site_id}/readings",
            {"kind": "grid", "l1_a": 20.0, "l2_a": 25.0, "l3_a": 19.0},
        )
        await _post(api, f"/sites/{site_id}/readings", {"kind": "solar", "power_w": 3200.0})

        async def loaded() -> dict[str, Any]:
            load = await _get(api, f"/sites/{site_id}/load")
            measured = {(c["charge_point_id"]): c["measured_a"] for c in load["connectors"]}
            return load if measured == {ids[0]: [10.0, 10.0, 9.5], ids[1]: [7.0]} else {}

        deadline = asyncio.get_running_loop().time() + 10
        load = await loaded()
        while not load:
            assert asyncio.get_running_loop().time() < deadline, "site load never showed draws"
            await asyncio.sleep(0.1)
            load = await loaded()
        limits = {
            charge_point_id: (
                await _get(api, f"/charge-points/{charge_point_id}/effective-limits")
            )["items"][0]["limit_a"]
            for charge_point_id in ids
        }
        check_site_load(load, site_id, ids, limits)


async def _get(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    answer = await api.get(path)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    answer = await api.post(path, json=body)
    assert answer.status_code < 300, answer.text


def check_series_of_a_session(series: dict[str, Any], transaction_id: int | None) -> None:
    """Energy since start, power derived from the register where none was sent, then as sent."""
    assert series["transaction_id"] == transaction_id
    assert series["meter_start"] == 0
    assert series["sampled"] == 3
    first, second, third = series["points"]
    assert (first["energy_wh"], second["energy_wh"], third["energy_wh"]) == (1000, 1500, 2250)
    assert first["power_w"] is None  # nothing to derive it from
    assert second["power_derived"] is True
    assert second["power_w"] == pytest.approx(500 * 3600 / 60)  # 500 Wh in a minute: 30 kW
    assert third["power_derived"] is False
    assert third["power_w"] == pytest.approx(1610)
    assert third["current_a"] == [7.0, None, None]
    assert third["soc_percent"] == 40


def check_site_load(
    load: dict[str, Any], site_id: int, ids: tuple[str, str], limits: dict[str, float]
) -> None:
    """Each circuit counts what hangs under it, on the grid phases each charger is wired to."""
    assert load["site_id"] == site_id
    grid, garage = load["circuits"]
    assert (grid["name"], grid["depth"], garage["name"], garage["depth"]) == (
        "grid",
        0,
        "garage",
        1,
    )
    assert garage["charge_point_ids"] == [ids[0]]
    assert grid["charge_point_ids"] == [ids[1]]
    assert _phases(garage, "limit_a") == [GARAGE_A] * 3
    assert _phases(garage, "measured_a") == [10.0, 10.0, 9.5]
    assert _phases(grid, "measured_a") == [10.0, 17.0, 9.5]  # the single-phase car is on L2
    garage_limit, main_limit = limits[ids[0]], limits[ids[1]]
    assert garage_limit > 0
    assert main_limit > 0
    assert _phases(garage, "allocated_a") == [garage_limit] * 3
    assert _phases(grid, "allocated_a") == pytest.approx(
        [garage_limit, garage_limit + main_limit, garage_limit]
    )
    single = next(c for c in load["connectors"] if c["charge_point_id"] == ids[1])
    assert single["phases"] == ["L2"]
    assert load["grid"]["l2_a"] == 25.0
    assert load["grid"]["stale"] is False
    assert load["solar"]["power_w"] == 3200.0


def test_session_series_and_site_load_follow_the_chargers_meter_values(
    site_server: tuple[ServerProcess, int, tuple[str, str]],
) -> None:
    server, site_id, ids = site_server
    asyncio.run(_scenario(server, site_id, ids))


def test_ui_data_refuses_unknown_and_malformed_ids_with_a_sentence(
    site_server: tuple[ServerProcess, int, tuple[str, str]],
) -> None:
    server, site_id, _ = site_server
    with server.api_client() as api:
        cases = {
            "/transactions/999999/series": (404, "unknown-transaction"),
            "/transactions/abc/series": (400, "invalid-transaction-id"),
            "/transactions/1/series?max_points=1": (400, "invalid-query"),
            "/transactions/1/series?max_points=x": (400, "invalid-query"),
            "/sites/999999/load": (404, "unknown-site"),
            "/sites/x/load": (400, "invalid-site-id"),
        }
        for path, (status, kind) in cases.items():
            answer = api.get(path)
            assert answer.status_code == status, (path, answer.text)
            problem = answer.json()
            assert problem["type"].endswith("/" + kind), (path, problem)
            assert problem["detail"], path
        empty = api.get(f"/sites/{site_id}/load").json()
        # No charger connected since the start: nothing drawn, no readings yet.
        assert empty["connectors"] == []
        assert [_phases(c, "measured_a") for c in empty["circuits"]] == [[0.0] * 3] * 2
        assert empty["grid"] is None
        assert empty["solar"] is None


def test_settings_are_shown_to_admins_with_defaults_and_meaning(
    site_server: tuple[ServerProcess, int, tuple[str, str]],
) -> None:
    server, _, _ = site_server
    with server.api_client() as api:
        items = {item["key"]: item for item in api.get("/settings").json()["items"]}
    assert items["load_control_debounce_s"]["value"] == 0.1
    assert items["load_control_debounce_s"]["default"] == 1.0
    assert items["load_control_debounce_s"]["changed"] is True
    assert items["ocpp_port"]["changed"] is True  # port 0: a free one
    assert "Charger WebSocket port" in items["ocpp_port"]["description"]
    read_token = create_api_token(server.database_url, "read", name="reader")
    answer = httpx.get(f"{server.api_url}/settings", headers=bearer(read_token))
    assert answer.status_code == 403, answer.text


def test_secret_settings_and_url_passwords_are_never_shown() -> None:
    assert shown_setting("database_url", "postgresql://app:s3cret@db:5432/cd") == (
        "postgresql://app:***@db:5432/cd"
    )
    assert shown_setting("mqtt_url", "mqtt://user:pw@broker:1883") == "***"
    assert shown_setting("mqtt_url", "") == ""
    assert shown_setting("database_url", "sqlite:///./chargedeck.db") == (
        "sqlite:///./chargedeck.db"
    )
