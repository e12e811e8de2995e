"""The acceptance check (``chargedeck check``, POST /charge-points/{id}/acceptance-check)
against chargers built on the PyPI ``ocpp`` library, through a real ``chargedeck serve``.

One charger supports everything the check tries and really sends what it is triggered to send;
the other refuses smart charging, accepts triggers but never sends the message, and implements
neither GetCompositeSchedule nor the Local Authorization List. Both keep the charging profiles
they hold, and each test asserts they end as they began.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    DataTransferStatus,
    GetCompositeScheduleStatus,
    RegistrationStatus,
    TriggerMessageStatus,
)

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess

CONFIGURATION = {
    "HeartbeatInterval": "300",
    "SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger,LocalAuthListManagement",
    "ChargingScheduleAllowedChargingRateUnit": "Current",
}


class CapableCharger(LibraryCharger):
    """Does all the check asks. Profiles are kept as OCPP 1.6 §3.13.2 says: a new one replaces
    the one with its id, or with its connector, stack level and purpose."""

    configuration: ClassVar[dict[str, str]] = CONFIGURATION

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.profiles: dict[int, dict[str, Any]] = {}

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": key, "readonly": True, "value": value}
                for key, value in self.configuration.items()
            ],
            unknown_key=[],
        )

    @on("TriggerMessage")
    def on_trigger(self, requested_message: str, **kwargs: Any) -> Any:
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after("TriggerMessage")
    async def send_triggered(self, requested_message: str, **kwargs: Any) -> None:
        if requested_message == "Heartbeat":
            await self.call(call.Heartbeat())
        elif requested_message == "StatusNotification":
            await self.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.no_error,
                    status=ChargePointStatus.available,
                )
            )

    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: Any) -> Any:
        profile = dict(cs_charging_profiles, connector_id=connector_id)
        for key, held in list(self.profiles.items()):
            same_slot = all(
                held[k] == profile[k]
                for k in ("connector_id", "stack_level", "charging_profile_purpose")
            )
            if key == profile["charging_profile_id"] or same_slot:
                del self.profiles[key]
        self.profiles[profile["charging_profile_id"]] = profile
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, connector_id: int, duration: int, **kwargs: Any) -> Any:
        if not self.profiles:
            return call_result.GetCompositeSchedule(status=GetCompositeScheduleStatus.accepted)
        limit = min(
            float(period["limit"])
            for profile in self.profiles.values()
            for period in profile["charging_schedule"]["charging_schedule_period"]
        )
        return call_result.GetCompositeSchedule(
            status=GetCompositeScheduleStatus.accepted,
            connector_id=connector_id,
            schedule_start=datetime.now(UTC).isoformat(),
            charging_schedule={
                "duration": duration,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            },
        )

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, id: int | None = None, **kwargs: Any) -> Any:
        if id in self.profiles:
            del self.profiles[id]
            return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.accepted)
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.unknown)

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kwargs: Any) -> Any:
        return call_result.GetLocalListVersion(list_version=3)

    @on("DataTransfer")
    def on_data_transfer(self, **kwargs: Any) -> Any:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)


class StubbornCharger(CapableCharger):
    """Rejects every charging profile, accepts triggers and sends nothing; GetCompositeSchedule,
    ClearChargingProfile and GetLocalListVersion have no handler (the library answers CALLERROR
    NotImplemented); DataTransfer answers Accepted even for a vendor it cannot know."""

    configuration: ClassVar[dict[str, str]] = {
        "HeartbeatInterval": "300",
        "SupportedFeatureProfiles": "Core,RemoteTrigger",
    }

    @after("TriggerMessage")
    async def send_triggered(self, requested_message: str, **kwargs: Any) -> None:
        return None

    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: Any) -> Any:
        return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)

    @on("DataTransfer")
    def on_data_transfer(self, **kwargs: Any) -> Any:
        return call_result.DataTransfer(status=DataTransferStatus.accepted)


# The library routes by the handlers found on the class: drop the inherited ones the stubborn
# charger does not implement.
for _name in (
    "on_get_composite_schedule",
    "on_clear_charging_profile",
    "on_get_local_list_version",
):
    setattr(StubbornCharger, _name, None)


async def boot(charger: LibraryCharger) -> None:
    answer = await charger.call(
        call.BootNotification(
            charge_point_vendor="ChargeDeck Labs", charge_point_model="LC-2", firmware_version="1.0"
        )
    )
    assert answer.status == RegistrationStatus.accepted


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {result["feature"]: result["outcome"] for result in report["results"]}


async def test_a_charger_that_supports_everything_works_and_keeps_no_profile(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "ACC-FULL", CapableCharger) as charger:
        await boot(charger)
        async with server.async_api_client(timeout=60) as client:
            response = await client.post("/charge-points/ACC-FULL/acceptance-check", json={})
            assert response.status_code == 200, response.text
            report = response.json()
            history = (await client.get("/charge-points/ACC-FULL/acceptance-checks")).json()
        assert charger.profiles == {}
    assert outcomes(report) == {
        "configuration_read": "works",
        "supported_feature_profiles": "works",
        "heartbeat_trigger": "works",
        "status_trigger": "works",
        "set_charging_profile": "works",
        "composite_schedule": "works",
        "clear_charging_profile": "works",
        "local_list_version": "works",
        "data_transfer": "works",
        "remote_start_stop": "skipped",
    }
    assert report["charger_model"] == "Generic OCPP 1.6 charger"
    assert report["firmware_version"] == "1.0"
    assert report["profile_kinds"] == ["Absolute", "Relative"]
    assert report["charging_rate_units"] == ["A"]
    assert report["quirks"] == []
    assert [item["ran_at"] for item in history["items"]] == [report["ran_at"]]
    assert history["comparison"] is None


async def test_a_check_leaves_a_charger_with_limits_in_force_untouched(
    server: ServerProcess,
) -> None:
    installed = {
        "charging_profile_id": 7,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 10}],
        },
        "connector_id": 0,
    }
    async with library_charger(server.ocpp_url, "ACC-HELD", CapableCharger) as charger:
        charger.profiles = {7: dict(installed)}
        await boot(charger)
        async with server.async_api_client(timeout=60) as client:
            response = await client.post("/charge-points/ACC-HELD/acceptance-check")
        assert charger.profiles == {7: installed}
    report = response.json()
    assert outcomes(report)["set_charging_profile"] == "skipped"
    assert outcomes(report)["clear_charging_profile"] == "skipped"


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return server.run_cli(*args)


# The ocpp library logs ERROR for the actions the stubborn charger has no handler for.
@pytest.mark.expect_error_log
async def test_a_charger_that_refuses_smart_charging_and_ignores_triggers_says_so(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "ACC-STUB", StubbornCharger) as charger:
        await boot(charger)
        done = await asyncio.to_thread(cli, server, "check", "ACC-STUB", "--json")
        assert charger.profiles == {}
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert outcomes(report) == {
        "configuration_read": "works",
        "supported_feature_profiles": "works",
        "heartbeat_trigger": "ignored",
        "status_trigger": "ignored",
        "set_charging_profile": "refused",
        "composite_schedule": "not_supported",
        "clear_charging_profile": "skipped",
        "local_list_version": "not_supported",
        "data_transfer": "works",
        "remote_start_stop": "skipped",
    }
    assert report["profile_kinds"] == []
    assert "DataTransfer for an unknown vendorId answered Accepted" in report["quirks"]
    assert any("accepts TriggerMessage, sends nothing" in q for q in report["quirks"])


def test_the_cli_prints_a_table_per_feature(server: ServerProcess) -> None:
    async def run() -> subprocess.CompletedProcess[str]:
        async with library_charger(server.ocpp_url, "ACC-TABLE", CapableCharger) as charger:
            await boot(charger)
            return await asyncio.to_thread(cli, server, "check", "ACC-TABLE")

    done = asyncio.run(run())
    assert done.returncode == 0, done.stderr
    assert "set charging profile" in done.stdout
    assert "charger model row: Generic OCPP 1.6 charger" in done.stdout
