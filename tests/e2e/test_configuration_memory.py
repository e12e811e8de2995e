"""Configuration memory (issue 7) against a PyPI ``ocpp`` charger that keeps its keys in a dict:
snapshots on connect (deferred while a transaction runs), drift, templates, bulk commands, and
secrets that never leave the charger in clear."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import ConfigurationStatus, UnlockStatus

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

AUTHORIZATION_KEY = "0123456789abcdef0123456789abcdef"
WEBSOCKET_PASSWORD = "wallbox-ws-secret-42"
SECRETS = (AUTHORIZATION_KEY, WEBSOCKET_PASSWORD)


class KeyedCharger(LibraryCharger):
    """Answers GetConfiguration from ``keys`` and applies ChangeConfiguration to it."""

    reboot_keys = frozenset({"WebSocketPingInterval"})
    rejected_keys = frozenset({"AuthEnabled"})
    unlock_status = UnlockStatus.unlocked

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.keys: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": ("60", False),
            "MeterValueSampleInterval": ("10", False),
            "WebSocketPingInterval": ("50", False),
            "NumberOfConnectors": ("1", True),
            "AuthEnabled": ("true", False),
            "AuthorizationKey": (AUTHORIZATION_KEY, False),
            "WebSocketPassword": (WEBSOCKET_PASSWORD, False),
        }

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **kwargs: Any) -> Any:
        self.received.append(("GetConfiguration", {"key": key}))
        names = list(self.keys) if key is None else key
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": name, "value": self.keys[name][0], "readonly": self.keys[name][1]}
                for name in names
                if name in self.keys
            ],
            unknown_key=[name for name in names if name not in self.keys],
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> Any:
        self.received.append(("ChangeConfiguration", {"key": key, "value": value}))
        if key not in self.keys:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.not_supported)
        if self.keys[key][1] or key in self.rejected_keys:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
        self.keys[key] = (value, False)
        if key in self.reboot_keys:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.reboot_required)
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on("UnlockConnector")
    def on_unlock(self, **kwargs: Any) -> Any:
        self.received.append(("UnlockConnector", kwargs))
        return call_result.UnlockConnector(status=self.unlock_status)


class TetheredCharger(KeyedCharger):
    """A charger with a fixed cable: UnlockConnector is NotSupported (§7.46)."""

    unlock_status = UnlockStatus.not_supported


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, ocpp_transport: str
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("memory")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}",
        ["--unknown-charge-points", "accept", "--configuration-snapshot-delay-s", "0.5"],
        folder,
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()
        assert not any(secret in s.log_text() for secret in SECRETS)


async def boot(charger: Any) -> None:
    await charger.call(
        call.BootNotification(
            charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1-0-2-4"
        )
    )


async def snapshots(client: httpx.AsyncClient, charge_point_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/charge-points/{charge_point_id}/configuration/snapshots")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def wait_for_snapshots(
    client: httpx.AsyncClient, charge_point_id: str, count: int = 1, timeout_s: float = 10
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await snapshots(client, charge_point_id)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {count} snapshot(s) of {charge_point_id}")


def stored_text(server: ServerProcess) -> str:
    path = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT keys, unknown_keys FROM configuration_snapshots"
        ).fetchall()
        rows += connection.execute("SELECT keys, '' FROM configuration_templates").fetchall()
    return repr(rows)


async def test_a_snapshot_is_taken_after_connecting_with_secrets_masked(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "MEM-SNAP", KeyedCharger) as charger:
        await boot(charger)
        async with server.async_api_client() as client:
            (taken,) = await wait_for_snapshots(client, "MEM-SNAP")
            listed = (await client.get("/charge-points/MEM-SNAP/configuration")).text
            diff = (
                await client.get(
                    f"/charge-points/MEM-SNAP/configuration/snapshots/{taken['id']}/diff"
                )
            ).json()
    values = {key["key"]: key["value"] for key in taken["keys"]}
    assert values["HeartbeatInterval"] == "60"
    assert values["AuthorizationKey"] == "***"
    assert values["WebSocketPassword"] == "***"
    assert diff["previous_id"] is None
    assert len(diff["added"]) == len(charger.keys)
    for text in (repr(taken), repr(diff), listed, stored_text(server)):
        assert not any(secret in text for secret in SECRETS)


async def test_the_snapshot_waits_while_a_transaction_is_open(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "MEM-TX", KeyedCharger) as charger:
        await boot(charger)
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="NoAuthorization",
                meter_start=0,
                timestamp="2026-03-01T10:00:00Z",
            )
        )
        async with server.async_api_client() as client:
            await asyncio.sleep(1.5)
            assert await snapshots(client, "MEM-TX") == []
            server.wait_for_log("MEM-TX: configuration snapshot deferred")
            await charger.call(
                call.StopTransaction(
                    meter_stop=1000,
                    timestamp="2026-03-01T10:30:00Z",
                    transaction_id=started.transaction_id,
                )
            )
            assert len(await wait_for_snapshots(client, "MEM-TX")) == 1


async def test_drift_is_detected_after_a_key_changes_on_the_charger(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "MEM-DRIFT", KeyedCharger) as charger:
        await boot(charger)
        async with server.async_api_client() as client:
            await wait_for_snapshots(client, "MEM-DRIFT")
            added = await client.post(
                "/configuration-templates",
                json={
                    "name": "drift",
                    "charger_model": "Wallbox Pulsar (Plus/Max)",
                    "keys": {"HeartbeatInterval": "300"},
                },
            )
            assert added.status_code == 201, added.text
            applied = await client.post(
                "/configuration-templates/drift/apply", json={"charge_point_ids": ["MEM-DRIFT"]}
            )
            assert applied.json()["chargers"][0]["outcome"] == "accepted"
            drift = (await client.get("/charge-points/MEM-DRIFT/configuration/drift")).json()
            assert drift["drifted"] is False

            charger.keys["HeartbeatInterval"] = ("30", False)  # changed at the charger
            taken = await client.post("/charge-points/MEM-DRIFT/configuration/snapshot")
            assert taken.status_code == 201, taken.text
            drift = (await client.get("/charge-points/MEM-DRIFT/configuration/drift")).json()
            diff = (
                await client.get(
                    f"/charge-points/MEM-DRIFT/configuration/snapshots/{taken.json()['id']}/diff"
                )
            ).json()
    assert drift["drifted"] is True
    assert [(k["key"], k["wanted"], k["reported"], k["state"]) for k in drift["keys"]] == [
        ("HeartbeatInterval", "300", "30", "differs")
    ]
    assert diff["changed"] == [{"key": "HeartbeatInterval", "before": "60", "after": "30"}]


async def test_a_template_is_applied_key_by_key_with_read_only_keys_refused_before_sending(
    server: ServerProcess,
) -> None:
    wanted = {
        "MeterValueSampleInterval": "60",
        "WebSocketPingInterval": "30",
        "NumberOfConnectors": "2",
        "MeterValuesSampledData": "Energy.Active.Import.Register,Watts",
        "AuthEnabled": "false",
        "VendorUnknown": "1",
    }
    async with library_charger(server.ocpp_url, "MEM-APPLY", KeyedCharger) as charger:
        await boot(charger)
        async with server.async_api_client() as client:
            added = await client.post(
                "/configuration-templates", json={"name": "apply", "keys": wanted}
            )
            assert added.status_code == 201, added.text
            secret = await client.post(
                "/configuration-templates",
                json={"name": "secret", "keys": {"AuthorizationKey": AUTHORIZATION_KEY[::-1]}},
            )
            answer = await client.post(
                "/configuration-templates/apply/apply", json={"charge_point_ids": ["MEM-APPLY"]}
            )
    body = answer.json()
    (result,) = body["chargers"]
    outcomes = {key["key"]: key["outcome"] for key in result["keys"]}
    assert outcomes == {
        "MeterValueSampleInterval": "accepted",
        "WebSocketPingInterval": "reboot required",
        "NumberOfConnectors": "refused",
        "MeterValuesSampledData": "refused",
        "AuthEnabled": "rejected",
        "VendorUnknown": "not supported",
    }
    reasons = {key["key"]: key["detail"] for key in result["keys"]}
    assert "read-only" in reasons["NumberOfConnectors"]
    assert "'Watts'" in reasons["MeterValuesSampledData"]
    assert body["reboot_required"] == ["MEM-APPLY"]
    sent = [kwargs["key"] for action, kwargs in charger.received if action == "ChangeConfiguration"]
    assert "NumberOfConnectors" not in sent
    assert "MeterValuesSampledData" not in sent
    assert not any(secret in answer.text for secret in SECRETS)
    assert secret.status_code == 422
    assert "secret" in secret.json()["detail"]
    assert AUTHORIZATION_KEY[::-1] not in stored_text(server)


async def test_bulk_reset_and_unlock_report_each_charger(server: ServerProcess) -> None:
    async with library_charger(server.ocpp_url, "MEM-GONE", KeyedCharger) as gone:
        await boot(gone)
    async with (
        library_charger(server.ocpp_url, "MEM-B1", KeyedCharger) as first,
        library_charger(server.ocpp_url, "MEM-B2", TetheredCharger) as tethered,
    ):
        await boot(first)
        await boot(tethered)
        ids = ["MEM-B1", "MEM-B2", "MEM-GONE"]
        async with server.async_api_client() as client:
            reset = await client.post(
                "/bulk/Reset", json={"charge_point_ids": ids, "payload": {"type": "Soft"}}
            )
            unlock = await client.post(
                "/bulk/UnlockConnector",
                json={"charge_point_ids": ids, "payload": {"connectorId": 1}},
            )
            wrong = await client.post("/bulk/Reset", json={"charge_point_ids": ids, "payload": {}})
    assert reset.status_code == 200, reset.text
    assert [(r["charge_point_id"], r["outcome"]) for r in reset.json()["results"]] == [
        ("MEM-B1", "accepted"),
        ("MEM-B2", "accepted"),
        ("MEM-GONE", "not connected"),
    ]
    assert [
        (r["charge_point_id"], r["outcome"], r["status"]) for r in unlock.json()["results"]
    ] == [
        ("MEM-B1", "accepted", "Unlocked"),
        ("MEM-B2", "not supported", "NotSupported"),
        ("MEM-GONE", "not connected", None),
    ]
    assert wrong.status_code == 422
    assert ("Reset", {"type": "Soft"}) in first.received
