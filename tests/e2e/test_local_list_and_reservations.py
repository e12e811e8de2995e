"""Local Authorization Lists and reservations against a charger built on the PyPI ``ocpp``
library, through a real ``chargedeck serve`` (OCTT 1.6 CSMS cases TC_042/043 local list, TC_046
to TC_053 reservations).

The charger answers GetConfiguration with the Local Auth List limits (SendLocalListMaxLength 100,
LocalAuthListMaxLength 1000) and keeps the list it receives, applying Full and Differential
updates as OCPP 1.6 §5.15 says; it holds reservations until cancelled.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    CancelReservationStatus,
    RegistrationStatus,
    ReservationStatus,
    UpdateStatus,
)

from tests.support.memory_charger import CHARGER_CONFIGURATION
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, bearer, create_api_token, running_server


class ListCharger(LibraryCharger):
    """A charger with a Local Authorization List and reservations (ReserveConnectorZeroSupported
    absent: it takes no connector 0 reservations)."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.list_version = 0
        self.entries: dict[str, dict[str, Any]] = {}
        self.version_mismatch_once = False
        self.reservations: dict[int, dict[str, Any]] = {}

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        self.received.append(("GetConfiguration", kwargs))
        wanted = kwargs.get("key") or list(CHARGER_CONFIGURATION)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": key, "readonly": True, "value": CHARGER_CONFIGURATION[key]}
                for key in wanted
                if key in CHARGER_CONFIGURATION
            ],
            unknown_key=[key for key in wanted if key not in CHARGER_CONFIGURATION],
        )

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kwargs: Any) -> Any:
        self.received.append(("GetLocalListVersion", kwargs))
        return call_result.GetLocalListVersion(list_version=self.list_version)

    @on("SendLocalList")
    def on_send_local_list(self, **kwargs: Any) -> Any:
        self.received.append(("SendLocalList", kwargs))
        if self.version_mismatch_once:
            self.version_mismatch_once = False
            return call_result.SendLocalList(status=UpdateStatus.version_mismatch)
        if kwargs["update_type"] == "Full":
            self.entries = {}
        elif kwargs["list_version"] <= self.list_version:
            return call_result.SendLocalList(status=UpdateStatus.version_mismatch)
        for entry in kwargs.get("local_authorization_list") or []:
            self.entries.pop(entry["id_tag"].upper(), None)
            if entry.get("id_tag_info") is not None:
                self.entries[entry["id_tag"].upper()] = entry["id_tag_info"]
        self.list_version = kwargs["list_version"]
        return call_result.SendLocalList(status=UpdateStatus.accepted)

    @on("ReserveNow")
    def on_reserve_now(self, **kwargs: Any) -> Any:
        self.received.append(("ReserveNow", kwargs))
        self.reservations[kwargs["reservation_id"]] = kwargs
        return call_result.ReserveNow(status=ReservationStatus.accepted)

    @on("CancelReservation")
    def on_cancel_reservation(self, **kwargs: Any) -> Any:
        self.received.append(("CancelReservation", kwargs))
        held = self.reservations.pop(kwargs["reservation_id"], None)
        return call_result.CancelReservation(
            status=CancelReservationStatus.rejected
            if held is None
            else CancelReservationStatus.accepted
        )

    def sent(self, action: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.received if name == action]


async def boot(charger: LibraryCharger) -> None:
    answer = await charger.call(
        call.BootNotification(charge_point_vendor="ChargeDeck Labs", charge_point_model="LC-2")
    )
    assert answer.status == RegistrationStatus.accepted


async def add_tags(client: httpx.AsyncClient, *id_tags: str) -> None:
    for id_tag in id_tags:
        response = await client.post("/id-tags", json={"id_tag": id_tag})
        assert response.status_code == 201, response.text


async def eventually(check: Any, timeout_s: float = 10.0) -> None:
    """Wait until ``check()`` holds (a background resync takes about a second)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
def list_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: the store holds exactly the id tags a test adds."""
    folder = tmp_path_factory.mktemp("lists")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


# ---- local lists ---------------------------------------------------------------------------


async def test_500_tags_go_out_in_5_parts_with_consecutive_versions(
    list_server: ServerProcess,
) -> None:
    async with list_server.async_api_client() as client:
        await add_tags(client, *(f"L{number:04d}" for number in range(500)))
        async with library_charger(list_server.ocpp_url, "LL1", ListCharger) as charger:
            await boot(charger)
            synced = await client.post("/charge-points/LL1/local-list/sync")
            shown = (await client.get("/charge-points/LL1/local-list")).json()
    assert synced.status_code == 200, synced.text
    sent = charger.sent("SendLocalList")
    assert [(s["list_version"], s["update_type"]) for s in sent] == [
        (1, "Full"),
        (2, "Differential"),
        (3, "Differential"),
        (4, "Differential"),
        (5, "Differential"),
    ]
    assert [len(s["local_authorization_list"]) for s in sent] == [100] * 5
    assert len(charger.entries) == 500
    assert {info["status"] for info in charger.entries.values()} == {"Accepted"}
    assert (shown["version"], shown["entry_count"]) == (5, 500)
    assert [(s["list_version"], s["entry_count"], s["status"]) for s in shown["sends"]] == [
        (version, 100, "Accepted") for version in (5, 4, 3, 2, 1)
    ]
    assert {k["key"]: k["value"] for k in shown["offline_authorization"]} == {
        "LocalAuthorizeOffline": "true",
        "LocalPreAuthorize": "false",
        "AllowOfflineTxForUnknownId": "false",
    }
    assert {k["key"]: k["value"] for k in shown["list_keys"]}["SendLocalListMaxLength"] == "100"


async def test_a_tag_changed_through_the_api_is_resynced_to_a_connected_charger(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "RESYNC1", "RESYNC2")
        async with library_charger(server.ocpp_url, "LL2", ListCharger) as charger:
            await boot(charger)
            assert (await client.post("/charge-points/LL2/local-list/sync")).status_code == 200
            before = len(charger.sent("SendLocalList"))
            changed = await client.patch("/id-tags/RESYNC2", json={"blocked": True})
            assert changed.status_code == 200, changed.text
            await eventually(lambda: len(charger.sent("SendLocalList")) > before)
            shown = (await client.get("/charge-points/LL2/local-list")).json()
    [resync] = charger.sent("SendLocalList")[before:]
    assert resync["update_type"] == "Differential"
    assert resync["local_authorization_list"] == [
        {"id_tag": "RESYNC2", "id_tag_info": {"status": "Blocked"}}
    ]
    assert charger.entries["RESYNC2"]["status"] == "Blocked"
    assert shown["resync_on_id_tag_change"] is True
    assert shown["sends"][0]["update_type"] == "Differential"


async def test_version_mismatch_is_followed_by_one_full_resend(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "MISMATCH1")
        async with library_charger(server.ocpp_url, "LL3", ListCharger) as charger:
            await boot(charger)
            charger.version_mismatch_once = True
            synced = (await client.post("/charge-points/LL3/local-list/sync")).json()
    assert synced["full_resend"] is True
    assert [(s["update_type"], s["status"]) for s in synced["sends"]][:1] == [
        ("Full", "VersionMismatch")
    ]
    assert synced["sends"][-1]["status"] == "Accepted"
    assert "MISMATCH1" in charger.entries
    server.wait_for_log(r"LL3 answered VersionMismatch to a SendLocalList")


async def test_configuration_is_refreshed_and_shown(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        async with library_charger(server.ocpp_url, "CF1", ListCharger) as charger:
            await boot(charger)
            refreshed = await client.post("/charge-points/CF1/configuration/refresh")
        shown = await client.get("/charge-points/CF1/configuration")
    assert refreshed.status_code == 200, refreshed.text
    assert charger.sent("GetConfiguration") == [{}]  # every key
    assert {k["key"]: k["value"] for k in shown.json()["items"]} == CHARGER_CONFIGURATION


async def test_sync_of_a_charger_that_is_not_connected_is_a_conflict(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        async with library_charger(server.ocpp_url, "GONE1", ListCharger) as charger:
            await boot(charger)
        answer = await client.post("/charge-points/GONE1/local-list/sync")
    assert answer.status_code == 409
    assert answer.json()["detail"] == "charge point 'GONE1' is not connected"


# ---- reservations --------------------------------------------------------------------------


async def test_a_reservation_is_accepted_and_honoured_by_the_start(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "RES1")
        async with library_charger(server.ocpp_url, "RS1", ListCharger) as charger:
            await boot(charger)
            made = await client.post(
                "/reservations",
                json={"charge_point_id": "RS1", "connector_id": 1, "id_tag": "RES1", "minutes": 10},
            )
            assert made.status_code == 201, made.text
            reservation = made.json()
            started = await charger.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="RES1",
                    meter_start=0,
                    timestamp=datetime.now(UTC).isoformat(),
                    reservation_id=reservation["id"],
                )
            )
        used = (await client.get(f"/reservations/{reservation['id']}")).json()
    [sent] = charger.sent("ReserveNow")
    assert (sent["reservation_id"], sent["connector_id"], sent["id_tag"]) == (
        reservation["id"],
        1,
        "RES1",
    )
    assert (reservation["status"], reservation["charger_status"]) == ("active", "Accepted")
    assert (used["status"], used["transaction_id"]) == ("used", started.transaction_id)


async def test_a_reservation_expires_at_its_expiry_date(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "RES2")
        async with library_charger(server.ocpp_url, "RS2", ListCharger) as charger:
            await boot(charger)
            expiry = datetime.now(UTC) + timedelta(seconds=2)
            made = await client.post(
                "/reservations",
                json={
                    "charge_point_id": "RS2",
                    "connector_id": 2,
                    "id_tag": "RES2",
                    "expiry_date": expiry.isoformat(),
                },
            )
            assert made.json()["status"] == "active"
            await asyncio.sleep(2.2)
            later = (await client.get(f"/reservations/{made.json()['id']}")).json()
            listed = (await client.get("/reservations?charge_point_id=RS2&status=expired")).json()
    assert later["status"] == "expired"
    assert [r["id"] for r in listed["items"]] == [made.json()["id"]]
    assert charger.sent("ReserveNow")[0]["connector_id"] == 2


async def test_connector_0_is_refused_for_a_charger_that_does_not_support_it(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "RES3")
        async with library_charger(server.ocpp_url, "RS3", ListCharger) as charger:
            await boot(charger)
            refused = await client.post(
                "/reservations",
                json={"charge_point_id": "RS3", "connector_id": 0, "id_tag": "RES3", "minutes": 5},
            )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/reservation-refused")
    assert "does not take reservations for connector 0" in refused.json()["detail"]
    assert charger.sent("ReserveNow") == []
    assert charger.sent("GetConfiguration") == [
        {"key": ["NumberOfConnectors", "ReserveConnectorZeroSupported"]}
    ]


async def test_a_reservation_is_cancelled_on_the_charger(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "RES4")
        async with library_charger(server.ocpp_url, "RS4", ListCharger) as charger:
            await boot(charger)
            made = (
                await client.post(
                    "/reservations",
                    json={
                        "charge_point_id": "RS4",
                        "connector_id": 1,
                        "id_tag": "RES4",
                        "minutes": 5,
                    },
                )
            ).json()
            cancelled = await client.delete(f"/reservations/{made['id']}")
            again = await client.delete(f"/reservations/{made['id']}")
    assert (cancelled.json()["status"], cancelled.json()["charger_status"]) == (
        "cancelled",
        "Accepted",
    )
    assert charger.sent("CancelReservation") == [{"reservation_id": made["id"]}]
    assert again.status_code == 409
    assert (
        again.json()["detail"]
        == f"reservation {made['id']} is cancelled: there is nothing to cancel"
    )


# ---- the CLI, through the running server ---------------------------------------------------


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return server.run_cli(*args)


async def test_the_cli_syncs_shows_reserves_lists_and_cancels(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        await add_tags(client, "CLI1")
    async with library_charger(server.ocpp_url, "CL1", ListCharger) as charger:
        await boot(charger)
        synced = await asyncio.to_thread(cli, server, "local-list", "sync", "CL1")
        shown = await asyncio.to_thread(cli, server, "local-list", "show", "CL1", "--json")
        added = await asyncio.to_thread(
            cli, server, "reservations", "add", "CL1", "1", "CLI1", "--minutes", "5", "--json"
        )
        reservation_id = json.loads(added.stdout)["id"]
        listed = await asyncio.to_thread(
            cli, server, "reservations", "list", "--charge-point", "CL1"
        )
        cancelled = await asyncio.to_thread(
            cli, server, "reservations", "cancel", str(reservation_id)
        )
        zero = await asyncio.to_thread(
            cli, server, "reservations", "add", "CL1", "0", "CLI1", "--minutes", "5"
        )
    assert synced.returncode == 0, synced.stderr
    assert "CL1: local list version 1" in synced.stdout
    assert json.loads(shown.stdout)["version"] == 1
    assert "active" in listed.stdout
    assert f"reservation {reservation_id}" in cancelled.stdout
    assert "cancelled" in cancelled.stdout
    assert zero.returncode == 2
    assert "does not take reservations for connector 0" in zero.stderr


# ---- API errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("GET", "/charge-points/NOPE/local-list", None, 404, "unknown-charge-point"),
        ("POST", "/charge-points/NOPE/local-list/sync", None, 404, "unknown-charge-point"),
        ("GET", "/charge-points/NOPE/configuration", None, 404, "unknown-charge-point"),
        ("GET", "/reservations/999999", None, 404, "unknown-reservation"),
        ("DELETE", "/reservations/999999", None, 404, "unknown-reservation"),
        ("GET", "/reservations/abc", None, 400, "invalid-reservation-id"),
        ("GET", "/reservations?status=booked", None, 400, "invalid-query"),
        (
            "POST",
            "/reservations",
            {"charge_point_id": "NOPE", "connector_id": 1, "id_tag": "X", "minutes": 5},
            404,
            "unknown-charge-point",
        ),
        (
            "POST",
            "/reservations",
            {
                "charge_point_id": "NOPE",
                "connector_id": 1,
                "id_tag": "X",
                "minutes": 5,
                "expiry_date": "2030-01-01T00:00:00Z",
            },
            422,
            "invalid-body",
        ),
        (
            "POST",
            "/reservations",
            {"charge_point_id": "NOPE", "connector_id": -1, "id_tag": "X", "minutes": 5},
            422,
            "invalid-body",
        ),
    ],
)
async def test_api_errors_say_what_is_wrong(
    server: ServerProcess,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    kind: str,
) -> None:
    async with server.async_api_client() as client:
        answer = await client.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["type"].endswith(f"/{kind}")


async def test_a_read_token_cannot_reserve_or_sync(server: ServerProcess) -> None:
    token = create_api_token(server.database_url, "read")
    async with httpx.AsyncClient(base_url=server.api_url, headers=bearer(token)) as client:
        reserve = await client.post("/reservations", json={})
        sync = await client.post("/charge-points/X/local-list/sync")
        listed = await client.get("/reservations")
    assert (reserve.status_code, sync.status_code, listed.status_code) == (403, 403, 200)
