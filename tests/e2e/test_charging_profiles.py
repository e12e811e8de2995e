"""Charging profiles through a real ``chargedeck serve`` (API and CLI), with chargers built on the
PyPI ``ocpp`` library: refused profiles never reach the charger (OCPP 1.6 §3.13), accepted ones
are listed as installed, replaced (§3.13.2), cleared (§5.5) and end with their transaction
(§3.13.1); the charger's composite schedule (§5.7) is compared with ChargeDeck's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
)

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess

ChargerT = TypeVar("ChargerT", bound=LibraryCharger)

BOOT = call.BootNotification(charge_point_vendor="ACME", charge_point_model="SC-2")
CONFIGURATION = {
    "NumberOfConnectors": "2",
    "ChargeProfileMaxStackLevel": "3",
    "ChargingScheduleAllowedChargingRateUnit": "Current",
    "ChargingScheduleMaxPeriods": "5",
    "MaxChargingProfilesInstalled": "10",
}


class ProfileCharger(LibraryCharger):
    """Holds profiles as OCPP 1.6 §3.13.2 says (a new one replaces the one with its id, or with
    its connector, purpose and stack level) and answers GetCompositeSchedule with the lowest of
    the ChargePointMaxProfile and the connector's (else connector 0's) TxProfile or
    TxDefaultProfile of the highest stack level: enough for the one-period, open-ended profiles
    these tests send."""

    answer: ClassVar[ChargingProfileStatus] = ChargingProfileStatus.accepted

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.profiles: dict[int, dict[str, Any]] = {}

    def set_profiles(self) -> list[dict[str, Any]]:
        return [kwargs for action, kwargs in self.received if action == "SetChargingProfile"]

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": key, "readonly": True, "value": value}
                for key, value in CONFIGURATION.items()
            ],
            unknown_key=[],
        )

    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: Any) -> Any:
        self.received.append(
            ("SetChargingProfile", {"connector_id": connector_id, **cs_charging_profiles})
        )
        if self.answer is not ChargingProfileStatus.accepted:
            return call_result.SetChargingProfile(status=self.answer)
        profile = dict(cs_charging_profiles, connector_id=connector_id)
        slot = ("connector_id", "stack_level", "charging_profile_purpose")
        for key, held in list(self.profiles.items()):
            if key == profile["charging_profile_id"] or all(held[k] == profile[k] for k in slot):
                del self.profiles[key]
        self.profiles[profile["charging_profile_id"]] = profile
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    def composite_limit(self, connector_id: int) -> float | None:
        def top(purpose: str, connector: int) -> float | None:
            held = [
                p
                for p in self.profiles.values()
                if p["charging_profile_purpose"] == purpose and p["connector_id"] == connector
            ]
            if not held:
                return None
            best = max(held, key=lambda p: p["stack_level"])
            return float(best["charging_schedule"]["charging_schedule_period"][0]["limit"])

        chain = (
            top("TxProfile", connector_id)
            or top("TxDefaultProfile", connector_id)
            or top("TxDefaultProfile", 0)
        )
        limits = [v for v in (top("ChargePointMaxProfile", 0), chain) if v is not None]
        return min(limits) if limits else None

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, connector_id: int, duration: int, **kwargs: Any) -> Any:
        limit = self.composite_limit(connector_id)
        if limit is None:
            return call_result.GetCompositeSchedule(status=GetCompositeScheduleStatus.accepted)
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
    def on_clear_charging_profile(self, id: int | None = None, **filters: Any) -> Any:
        if id is not None:
            matching = [id] if id in self.profiles else []
        else:  # §5.5: every profile that matches all the given filters
            matching = [
                key
                for key, held in self.profiles.items()
                if all(held[name] == value for name, value in filters.items() if value is not None)
            ]
        for key in matching:
            del self.profiles[key]
        status = (
            ClearChargingProfileStatus.accepted if matching else ClearChargingProfileStatus.unknown
        )
        return call_result.ClearChargingProfile(status=status)


class OverstatingCharger(ProfileCharger):
    """Accepts profiles but reports a composite schedule of 32 A whatever it holds (field notes
    Q6: profiles accepted but not honoured)."""

    def composite_limit(self, connector_id: int) -> float | None:
        return 32.0


class RefusingCharger(ProfileCharger):
    answer = ChargingProfileStatus.rejected


def tx_default(connector_id: int = 1, limit: float = 16.0, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "connector_id": connector_id,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "start_schedule": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
    }
    body.update(changes)
    return body


async def booted(charger: LibraryCharger, client: httpx.AsyncClient) -> None:
    """Boot, and let ChargeDeck read the configuration (capabilities) it reports."""
    await charger.call(BOOT)
    answer = await client.post(f"/charge-points/{charger.id}/configuration/refresh")
    assert answer.status_code == 200, answer.text


@asynccontextmanager
async def connected(
    server: ServerProcess, charge_point_id: str, charger_class: type[ChargerT]
) -> AsyncIterator[tuple[ChargerT, httpx.AsyncClient]]:
    """A booted charger whose configuration ChargeDeck has read, and an API client."""
    async with (
        library_charger(server.ocpp_url, charge_point_id, charger_class) as charger,
        server.async_api_client() as client,
    ):
        await booted(charger, client)
        yield charger, client


async def installed_ids(client: httpx.AsyncClient, charge_point_id: str) -> list[int]:
    answer = await client.get(f"/charge-points/{charge_point_id}/charging-profiles")
    assert answer.status_code == 200, answer.text
    return [item["profile"]["charging_profile_id"] for item in answer.json()["installed"]]


async def test_a_tx_profile_without_a_transaction_never_reaches_the_charger(
    server: ServerProcess,
) -> None:
    async with connected(server, "SCP1", ProfileCharger) as (charger, client):
        answer = await client.post(
            "/charge-points/SCP1/charging-profiles",
            json=tx_default(charging_profile_purpose="TxProfile"),
        )
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"].endswith("/profile-refused")
        assert "no transaction runs on connector 1" in problem["detail"]
        assert charger.set_profiles() == []
        assert await installed_ids(client, "SCP1") == []


async def test_a_stack_level_above_the_reported_maximum_never_reaches_the_charger(
    server: ServerProcess,
) -> None:
    async with connected(server, "SCP2", ProfileCharger) as (charger, client):
        answer = await client.post(
            "/charge-points/SCP2/charging-profiles", json=tx_default(stack_level=4)
        )
        assert answer.status_code == 422, answer.text
        assert "use 0 to 3, not 4" in answer.json()["detail"]
        assert charger.set_profiles() == []


async def test_an_accepted_profile_is_listed_as_installed(server: ServerProcess) -> None:
    async with connected(server, "SCP3", ProfileCharger) as (charger, client):
        answer = await client.post("/charge-points/SCP3/charging-profiles", json=tx_default())
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["charger_status"] == "Accepted"
        assert (body["profile"]["status"], body["profile"]["installed"]) == ("accepted", True)
        [sent] = charger.set_profiles()
        assert (sent["connector_id"], sent["charging_profile_id"]) == (1, 1000)
        assert sent["charging_schedule"]["charging_schedule_period"] == [
            {"start_period": 0, "limit": 16.0}
        ]
        listed = (await client.get("/charge-points/SCP3/charging-profiles")).json()
        [installed] = listed["installed"]
        assert (installed["origin"], installed["connector_id"]) == ("operator", 1)
        assert installed["profile"]["charging_schedule"]["charging_schedule_period"] == [
            {"start_period": 0, "limit": 16.0, "number_phases": None}
        ]


async def test_a_profile_in_the_same_slot_replaces_the_installed_one(
    server: ServerProcess,
) -> None:
    async with connected(server, "SCP4", ProfileCharger) as (charger, client):
        for limit in (16.0, 10.0):
            answer = await client.post(
                "/charge-points/SCP4/charging-profiles", json=tx_default(limit=limit)
            )
            assert answer.status_code == 200, answer.text
        assert await installed_ids(client, "SCP4") == [1001]
        history = (await client.get("/charge-points/SCP4/charging-profiles")).json()["history"]
        assert [(h["profile"]["charging_profile_id"], h["status"]) for h in history] == [
            (1001, "accepted"),
            (1000, "replaced"),
        ]
        assert list(charger.profiles) == [1001]


async def test_a_rejected_profile_is_recorded_and_not_installed(server: ServerProcess) -> None:
    async with connected(server, "SCP5", RefusingCharger) as (_charger, client):
        answer = await client.post("/charge-points/SCP5/charging-profiles", json=tx_default())
        assert answer.status_code == 200, answer.text
        assert (answer.json()["charger_status"], answer.json()["profile"]["status"]) == (
            "Rejected",
            "rejected",
        )
        assert await installed_ids(client, "SCP5") == []


async def test_a_charger_whose_composite_matches_has_no_mismatch(server: ServerProcess) -> None:
    async with connected(server, "SCP6", ProfileCharger) as (_charger, client):
        await client.post(
            "/charge-points/SCP6/charging-profiles",
            json=tx_default(
                connector_id=0, limit=20.0, charging_profile_purpose="ChargePointMaxProfile"
            ),
        )
        await client.post("/charge-points/SCP6/charging-profiles", json=tx_default(limit=16.0))
        answer = await client.get(
            "/charge-points/SCP6/composite-schedule",
            params={"connector_id": 1, "duration": 600, "unit": "A"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["charger_status"] == "Accepted"
        assert body["chargedeck"]["charging_schedule_period"] == [
            {"start_period": 0, "limit": 16.0, "number_phases": None}
        ]
        assert body["charger"]["charging_schedule_period"][0]["limit"] == 16.0
        assert body["mismatches"] == []


async def test_a_charger_whose_composite_differs_gets_a_mismatch_reported(
    server: ServerProcess,
) -> None:
    async with connected(server, "SCP7", OverstatingCharger) as (_charger, client):
        await client.post("/charge-points/SCP7/charging-profiles", json=tx_default(limit=16.0))
        answer = await client.get(
            "/charge-points/SCP7/composite-schedule",
            params={"connector_id": 1, "duration": 600},
        )
        assert answer.status_code == 200, answer.text
        [mismatch] = answer.json()["mismatches"]
        assert "for 600 s ChargeDeck expects 16 A, the charger reports 32 A" in mismatch
        server.wait_for_log(
            r"WARNING .*charge point SCP7 connector 1: its composite schedule differs"
        )


async def test_clearing_by_id_ends_the_installed_profile(server: ServerProcess) -> None:
    async with connected(server, "SCP8", ProfileCharger) as (charger, client):
        await client.post("/charge-points/SCP8/charging-profiles", json=tx_default())
        await client.post("/charge-points/SCP8/charging-profiles", json=tx_default(connector_id=2))
        answer = await client.delete("/charge-points/SCP8/charging-profiles", params={"id": 1000})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"charger_status": "Accepted", "cleared": 1}
        assert await installed_ids(client, "SCP8") == [1001]
        assert list(charger.profiles) == [1001]


async def test_a_tx_profile_carries_its_transaction_and_ends_with_it(
    server: ServerProcess,
) -> None:
    async with connected(server, "SCP9", ProfileCharger) as (charger, client):
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="04A2BC19",
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        answer = await client.post(
            "/charge-points/SCP9/charging-profiles",
            json=tx_default(charging_profile_purpose="TxProfile", stack_level=1),
        )
        assert answer.status_code == 200, answer.text
        [sent] = charger.set_profiles()
        assert sent["transaction_id"] == started.transaction_id
        assert await installed_ids(client, "SCP9") == [1000]
        await charger.call(
            call.StopTransaction(
                meter_stop=1000,
                timestamp=datetime.now(UTC).isoformat(),
                transaction_id=started.transaction_id,
            )
        )
        assert await installed_ids(client, "SCP9") == []


async def test_the_cli_sets_lists_and_compares_profiles(server: ServerProcess) -> None:
    async with connected(server, "SCP10", ProfileCharger) as (charger, _client):
        done = await asyncio.to_thread(
            server.run_cli, "charging-profiles", "set", "SCP10", "--connector", "1", "--limit", "16"
        )
        assert done.returncode == 0, done.stderr
        assert " ".join(done.stdout.split()) == (
            "SCP10 connector 1: TxDefaultProfile 1000 (16 A, stack level 0, Absolute): Accepted"
        )
        listed = await asyncio.to_thread(
            server.run_cli, "charging-profiles", "list", "SCP10", "--json"
        )
        assert listed.returncode == 0, listed.stderr
        [installed] = json.loads(listed.stdout)["installed"]
        assert (installed["profile"]["charging_profile_id"], installed["status"]) == (
            1000,
            "accepted",
        )
        table = await asyncio.to_thread(server.run_cli, "charging-profiles", "list", "SCP10")
        assert table.returncode == 0, table.stderr
        assert "installed" in table.stdout
        assert "1000" in table.stdout
        compared = await asyncio.to_thread(
            server.run_cli,
            "charging-profiles",
            "composite",
            "SCP10",
            "--connector",
            "1",
            "--duration",
            "300",
        )
        assert compared.returncode == 0, compared.stderr
        assert "the charger's composite schedule matches ChargeDeck's" in compared.stdout
        refused = await asyncio.to_thread(
            server.run_cli,
            "charging-profiles",
            "set",
            "SCP10",
            "--connector",
            "1",
            "--limit",
            "16",
            "--purpose",
            "ChargePointMaxProfile",
        )
        assert refused.returncode != 0
        assert "send it to connector 0, not connector 1" in refused.stdout + refused.stderr
        assert len(charger.set_profiles()) == 1


@pytest.mark.expect_error_log  # the library charger logs its missing handler as an ERROR
async def test_a_charger_without_smart_charging_is_a_charger_error_recorded_not_supported(
    server: ServerProcess,
) -> None:
    # The library answers an action it has no handler for with CALLERROR NotImplemented.
    async with (
        library_charger(server.ocpp_url, "SCP11", LibraryCharger) as charger,
        server.async_api_client() as client,
    ):
        await charger.call(BOOT)
        answer = await client.post("/charge-points/SCP11/charging-profiles", json=tx_default())
        assert answer.status_code == 502, answer.text
        assert answer.json()["type"].endswith("/charge-point-error")
        assert "NotImplemented" in answer.json()["detail"]
        listed = (await client.get("/charge-points/SCP11/charging-profiles")).json()
        assert [item["status"] for item in listed["history"]] == ["not_supported"]
        assert listed["installed"] == []


async def test_a_profile_for_a_charger_that_is_not_connected_is_not_recorded(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "SCP12", ProfileCharger) as charger:
        await charger.call(BOOT)
    async with server.async_api_client() as client:
        answer = await client.post("/charge-points/SCP12/charging-profiles", json=tx_default())
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"].endswith("/charge-point-not-connected")
        listed = (await client.get("/charge-points/SCP12/charging-profiles")).json()
        assert listed == {"installed": [], "history": []}
        unknown = await client.get("/charge-points/SCP-NONE/charging-profiles")
        assert unknown.status_code == 404


async def test_bad_filters_and_schedule_queries_are_400s(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        cleared = await client.delete(
            "/charge-points/SCP12/charging-profiles", params={"purpose": "Everything"}
        )
        assert cleared.status_code == 400
        assert "expected one of ChargePointMaxProfile" in cleared.json()["detail"]
        composite = await client.get(
            "/charge-points/SCP12/composite-schedule", params={"connector_id": 1}
        )
        assert composite.status_code == 400
        assert "give connector_id" in composite.json()["detail"]
