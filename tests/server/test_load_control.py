"""Site load management over real sockets (issue 6): four PyPI ``ocpp`` chargers on one 32 A
grid connection, a grid meter on MQTT (Mosquitto on 127.0.0.1:1883), a meter that goes stale.

Every SetChargingProfile a charger receives is applied the way a charger applies it (OCPP 1.6
§3.13: a TxProfile for the running transaction, else the TxDefaultProfile), and after each one
the sum of the limits in force on the chargers that charge is checked against the fuse.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, IdTag
from chargedeck.store import open_store
from tests.support.mqtt import BROKER_HOST, BROKER_PORT, publish
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server
from tests.support.site_charger import SiteCharger, id_tag_of, until

FUSE_A = 32.0
STALE_AFTER_S = 3


async def _setup_site(database_url: str, ids: list[str]) -> None:
    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        _site, grid = await store.sites.add_site(
            "home",
            strategy="equal",
            limit_a=(FUSE_A, FUSE_A, FUSE_A),
            meter_stale_after_s=STALE_AFTER_S,
            now=now,
        )
        for charge_point_id in ids:
            await store.id_tags.add_id_tag(IdTag(id_tag_of(charge_point_id)), now=now)
            await store.charge_points.add_charge_point(
                ChargePointId(charge_point_id), Registration.REGISTERED, now
            )
            await store.sites.place_charger(
                ChargePointId(charge_point_id),
                circuit_id=grid.id,
                phase_rotation="L1L2L3",
                now=now,
            )
    finally:
        await store.close()


@asynccontextmanager
async def _site_chargers(
    server: ServerProcess, ids: list[str]
) -> AsyncIterator[tuple[list[SiteCharger], list[str]]]:
    """The chargers connected (not booted), and the list of fuse violations seen so far."""
    violations: list[str] = []
    chargers: list[SiteCharger] = []

    def check_fuse() -> None:
        in_force = {c.id: c.limit_in_force() for c in chargers}
        total = sum(in_force.values())
        if total > FUSE_A + 1e-6:
            violations.append(f"{total} A in force: {in_force}")

    async with AsyncExitStack() as stack:
        for charge_point_id in ids:
            charger = await stack.enter_async_context(
                library_charger(server.ocpp_url, charge_point_id, SiteCharger)
            )
            charger.on_profile = check_fuse
            chargers.append(charger)
        yield chargers, violations


async def _publish_grid(prefix: str, amps: float) -> None:
    payload = {"l1_a": amps, "l2_a": amps, "l3_a": amps, "measured_at": _now_text()}
    await publish(f"{prefix}/sites/home/grid", json.dumps(payload).encode())


def _now_text() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture
def site_server(tmp_path: Path) -> Any:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    ids = [f"LC-{uuid.uuid4().hex[:6]}-{n}" for n in range(4)]
    database_url = f"sqlite:///{tmp_path / 'chargedeck.db'}"
    asyncio.run(_setup_site(database_url, ids))
    args = [
        "--load-control-debounce-s",
        "0.2",
        "--limit-min-interval-s",
        "0",
        "--mqtt-url",
        f"mqtt://{BROKER_HOST}:{BROKER_PORT}",
        "--mqtt-topic-prefix",
        prefix,
    ]
    with running_server(database_url, args, tmp_path) as server:
        yield server, ids, prefix
        assert server.error_lines() == [], server.log_text()


async def _scenario(server: ServerProcess, ids: list[str], prefix: str) -> None:
    async with _site_chargers(server, ids) as (chargers, violations):
        first_three, fourth = chargers[:3], chargers[3]
        for charger in chargers:
            await charger.boot()
        # Fail-safe at boot: each connector's share of the fuse if ChargeDeck is lost.
        await until(lambda: all(c.tx_default_a == 8.0 for c in chargers), "fail-safe 8 A each")

        for charger in first_three:
            await charger.start_charging()
        await until(
            lambda: all(c.tx_profile_a == 10.6 for c in first_three), "three cars at 10.6 A"
        )

        # A fourth car plugs in: everyone gets a new limit before it starts.
        await fourth.status("Preparing")
        await until(lambda: all(c.tx_profile_a == 8.0 for c in first_three), "three at 8 A")
        await fourth.start_charging()
        await until(lambda: fourth.tx_profile_a == 8.0, "the fourth car at 8 A")

        # The grid meter says the household takes 16 A: 16 A left for four cars, 4 A each is
        # below the 6 A floor, so two are paused and two get 8 A.
        await _publish_grid(prefix, 16.0)
        await until(
            lambda: sorted(c.tx_profile_a or 0.0 for c in chargers) == [0.0, 0.0, 8.0, 8.0],
            "two cars paused, two at 8 A",
        )
        # Who caps: the paused car's explanation names the household and the floor.
        paused = next(c for c in chargers if c.tx_profile_a == 0.0)
        async with server.async_api_client() as api:
            answer = await api.get(f"/charge-points/{paused.id}/effective-limits")
        assert answer.status_code == 200, answer.text
        (connector,) = answer.json()["items"]
        assert connector["limit_a"] == 0.0
        assert connector["safe_limit_a"] == 8.0
        explanation = " ; ".join(connector["steps"])
        assert "household 16" in explanation
        assert "floor 6 A" in explanation

        # The meter falls silent: after STALE_AFTER_S every car is back to its safe limit.
        await until(lambda: all(c.tx_profile_a == 8.0 for c in chargers), "safe limit 8 A")
        assert violations == []


def test_four_chargers_share_one_fuse_follow_the_meter_and_fall_back_when_it_goes_stale(
    site_server: tuple[ServerProcess, list[str], str],
) -> None:
    server, ids, prefix = site_server
    asyncio.run(_scenario(server, ids, prefix))
