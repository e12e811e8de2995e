"""A PyPI ``ocpp`` charger that holds charging profiles the way a charger applies them (OCPP 1.6
§3.13: a TxProfile for the running transaction, else the TxDefaultProfile), for the load-control
tests."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import ChargingProfileStatus, ClearChargingProfileStatus

from tests.support.ocpp_lib_charger import LibraryCharger
from tests.support.server import ServerProcess

WAIT_S = 15.0


async def until(condition: Callable[[], bool], what: str, wait_s: float = WAIT_S) -> None:
    """Wait for ``condition``, polling; fail naming ``what`` after ``wait_s``."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def open_limit_alerts(server: ServerProcess, charge_point_id: str) -> list[dict[str, object]]:
    """The charger's open "limit not honoured" alerts, through the API."""
    async with server.async_api_client() as api:
        answer = await api.get(
            "/limit-alerts", params={"charge_point_id": charge_point_id, "open": "true"}
        )
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, object]] = answer.json()["items"]
    return alerts


def id_tag_of(charge_point_id: str) -> str:
    """Each car its own card (one card may not run two transactions at once)."""
    return f"CARD-{charge_point_id}"


class SiteCharger(LibraryCharger):
    """Keeps the profiles it holds and tells which limit is in force."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.tx_default_a: float | None = None
        self.tx_profile_a: float | None = None
        self.transaction_id: int | None = None
        self.on_profile: Callable[[], None] = lambda: None
        self.profile_ids: list[int] = []

    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> Any:
        self.received.append(("SetChargingProfile", cs_charging_profiles))
        schedule = cs_charging_profiles["charging_schedule"]
        assert schedule["charging_rate_unit"] == "A"
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        purpose = cs_charging_profiles["charging_profile_purpose"]
        self.profile_ids.append(cs_charging_profiles["charging_profile_id"])
        if purpose == "TxDefaultProfile":
            assert connector_id == 0
            self.tx_default_a = limit
        else:
            assert purpose == "TxProfile"
            assert cs_charging_profiles["transaction_id"] == self.transaction_id
            self.tx_profile_a = limit
        self.on_profile()
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **kwargs: Any) -> Any:
        self.received.append(("ClearChargingProfile", kwargs))
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.accepted)

    def limit_in_force(self) -> float:
        """What the car may draw now: nothing without a transaction (OCPP 1.6 §3.13.2)."""
        if self.transaction_id is None:
            return 0.0
        if self.tx_profile_a is not None:
            return self.tx_profile_a
        return self.tx_default_a if self.tx_default_a is not None else math.inf

    async def boot(self) -> None:
        await self.call(
            call.BootNotification(charge_point_vendor="Generic", charge_point_model="AC22")
        )
        await self.status("Available")

    async def status(self, status: str) -> None:
        await self.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status=status)
        )

    async def start_charging(self) -> None:
        answer = await self.call(
            call.StartTransaction(
                connector_id=1,
                id_tag=id_tag_of(self.id),
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        self.tx_profile_a = None
        self.transaction_id = answer.transaction_id
        await self.status("Charging")

    @property
    def profiles_set(self) -> int:
        return len(self.profile_ids)

    async def stop_charging(self) -> None:
        await self.call(
            call.StopTransaction(
                transaction_id=self.transaction_id,
                meter_stop=1000,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        self.transaction_id = None
        self.tx_profile_a = None  # a TxProfile ends with its transaction (OCPP 1.6 §3.13.2)
        await self.status("Finishing")

    async def draw(self, *amps: float) -> None:
        """MeterValues with Current.Import on L1.. (one value per phase the car uses)."""
        sampled = [
            {"value": f"{value:g}", "measurand": "Current.Import", "phase": f"L{n}", "unit": "A"}
            for n, value in enumerate(amps, start=1)
        ]
        await self.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=self.transaction_id,
                meter_value=[
                    {"timestamp": datetime.now(UTC).isoformat(), "sampled_value": sampled}
                ],
            )
        )
