"""Who may charge, end to end: a real ``chargedeck serve``, its API, and a charger built on the
PyPI ``ocpp`` library (which validates every answer against the official 1.6 schemas).

The charger boots as a Wallbox Pulsar Plus ("Wall Box Chargers", "PLP1-0-2-4"): it sends card
UIDs little-endian (Wallbox OCPP setup guide) and ``NoAuthorization`` when AuthEnabled=false
(wallbox-field-notes item 6).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import httpx
from ocpp.v16 import call
from ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    RegistrationStatus,
)

from tests.server.test_api import assert_problem
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess

T0 = "2026-03-01T10:00:00Z"
PRINTED = "04:A2:2B:1A:5C:3D:80"
CANONICAL = "04A22B1A5C3D80"
LITTLE_ENDIAN = "803D5C1A2BA204"
REMOTE_START_WAIT_S = 10.0


@asynccontextmanager
async def wallbox(server: ServerProcess, charge_point_id: str) -> AsyncIterator[LibraryCharger]:
    """A Pulsar Plus, connected and booted."""
    async with library_charger(server.ocpp_url, charge_point_id) as charger:
        await boot(charger)
        yield charger


async def boot(charger: LibraryCharger) -> Any:
    return await charger.call(
        call.BootNotification(
            charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1-0-2-4"
        )
    )


async def authorize(charger: LibraryCharger, id_tag: str) -> str:
    answer = await charger.call(call.Authorize(id_tag=id_tag))
    status: str = answer.id_tag_info["status"]
    return status


async def start(charger: LibraryCharger, id_tag: str, connector_id: int = 1) -> Any:
    return await charger.call(
        call.StartTransaction(connector_id=connector_id, id_tag=id_tag, meter_start=0, timestamp=T0)
    )


async def preparing(charger: LibraryCharger, connector_id: int = 1) -> Any:
    return await charger.call(
        call.StatusNotification(
            connector_id=connector_id,
            error_code=ChargePointErrorCode.no_error,
            status=ChargePointStatus.preparing,
        )
    )


async def remote_starts(charger: LibraryCharger, count: int) -> list[dict[str, Any]]:
    """The RemoteStartTransactions the charger received, once there are ``count`` of them."""
    deadline = asyncio.get_running_loop().time() + REMOTE_START_WAIT_S
    while True:
        received = [kw for action, kw in charger.received if action == "RemoteStartTransaction"]
        if len(received) >= count or asyncio.get_running_loop().time() > deadline:
            return received
        await asyncio.sleep(0.05)


def owner_of(server: ServerProcess, transaction_id: int) -> str | None:
    path = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT owner FROM transactions WHERE id = ?", (transaction_id,)
        ).fetchone()
    owner: str | None = row[0]
    return owner


def api(server: ServerProcess) -> httpx.AsyncClient:
    return server.async_api_client()


# ---- cards -----------------------------------------------------------------------------------


async def test_a_card_registered_by_printed_uid_authorizes_in_little_endian_from_a_wallbox(
    server: ServerProcess,
) -> None:
    async with api(server) as client:
        created = await client.post("/id-tags", json={"uid": PRINTED.lower(), "owner": "Ana"})
    assert created.status_code == 201, created.text
    async with wallbox(server, "AUTH-UID") as charger:
        authorized = await authorize(charger, LITTLE_ENDIAN)
        started = await start(charger, LITTLE_ENDIAN)
    assert authorized == AuthorizationStatus.accepted
    assert started.id_tag_info["status"] == AuthorizationStatus.accepted
    assert owner_of(server, started.transaction_id) == "Ana"


async def test_registering_by_uid_answers_the_canonical_uid_and_each_charger_models_id_tag(
    server: ServerProcess,
) -> None:
    async with api(server) as client:
        created = await client.post("/id-tags", json={"uid": "04 1c 2d 3e", "label": "fob"})
    body = created.json()
    sent = {entry["byte_order"]: entry for entry in body["charger_id_tags"]}
    assert (body["id_tag"], body["card_uid"], body["label"]) == ("041C2D3E", "041C2D3E", "fob")
    assert sent["reversed"]["id_tag"] == "3E2D1C04"
    assert "Wallbox Pulsar (Plus/Max)" in sent["reversed"]["charger_models"]
    assert sent["as_printed"]["id_tag"] == "041C2D3E"


async def test_a_card_uid_added_to_a_tag_later_makes_it_answer_to_the_wallbox_form(
    server: ServerProcess,
) -> None:
    async with api(server) as client:
        await client.post("/id-tags", json={"id_tag": "AUTH-LATER", "owner": "Cy"})
        patched = await client.patch("/id-tags/AUTH-LATER", json={"uid": "04-51-62-73"})
    assert patched.json()["card_uid"] == "04516273", patched.text
    async with wallbox(server, "AUTH-LATER-CP") as charger:
        assert await authorize(charger, "73625104") == AuthorizationStatus.accepted


async def test_an_id_tag_in_the_path_no_charger_can_send_is_a_400(server: ServerProcess) -> None:
    async with api(server) as client:
        answer = await client.get("/id-tags/" + "T" * 21)
    problem = assert_problem(answer, HTTPStatus.BAD_REQUEST, "/api/v1/id-tags/" + "T" * 21)
    assert problem["detail"] == "id tag must be 1 to 20 characters (OCPP 1.6 IdToken), got 21"


async def test_an_invalid_uid_is_a_422_that_says_why(server: ServerProcess) -> None:
    async with api(server) as client:
        answer = await client.post("/id-tags", json={"uid": "04:A2:2B:1A:5C:3"})
    problem = assert_problem(answer, HTTPStatus.UNPROCESSABLE_ENTITY, "/api/v1/id-tags")
    assert problem["type"].endswith("/invalid-card-uid")
    assert problem["detail"] == (
        "a separator in '04:A2:2B:1A:5C:3' splits a byte: '3' has 1 hex digits, but each part "
        "between separators must be whole bytes (2 hex digits each)"
    )


async def test_a_tag_a_registered_card_answers_to_already_is_a_409(server: ServerProcess) -> None:
    async with api(server) as client:
        await client.post("/id-tags", json={"uid": "AA:BB:CC:01"})
        answer = await client.post("/id-tags", json={"id_tag": "01CCBBAA"})
    problem = assert_problem(answer, HTTPStatus.CONFLICT, "/api/v1/id-tags")
    assert "a charger could not tell the two apart" in problem["detail"]


async def test_the_wallbox_placeholder_cannot_be_registered_as_a_card(
    server: ServerProcess,
) -> None:
    async with api(server) as client:
        answer = await client.post("/id-tags", json={"id_tag": "noauthorization"})
    problem = assert_problem(answer, HTTPStatus.UNPROCESSABLE_ENTITY, "/api/v1/id-tags")
    assert "start without a card" in problem["detail"]


# ---- refusals --------------------------------------------------------------------------------


async def test_a_blocked_and_an_expired_tag_are_refused(server: ServerProcess) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    async with api(server) as client:
        await client.post("/id-tags", json={"id_tag": "AUTH-BLOCKED", "blocked": True})
        await client.post("/id-tags", json={"id_tag": "AUTH-EXPIRED", "expiry_date": yesterday})
    async with wallbox(server, "AUTH-REFUSE") as charger:
        blocked = await authorize(charger, "AUTH-BLOCKED")
        expired = await start(charger, "AUTH-EXPIRED")
    assert blocked == AuthorizationStatus.blocked
    assert expired.id_tag_info["status"] == AuthorizationStatus.expired
    assert datetime.fromisoformat(expired.id_tag_info["expiry_date"]) == datetime.fromisoformat(
        yesterday
    )


async def test_blocking_through_the_api_refuses_the_card_from_then_on(
    server: ServerProcess,
) -> None:
    async with api(server) as client:
        await client.post("/id-tags", json={"id_tag": "AUTH-LOST"})
        patched = await client.patch("/id-tags/auth-lost", json={"blocked": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["blocked"] is True
    async with wallbox(server, "AUTH-PATCH") as charger:
        assert await authorize(charger, "AUTH-LOST") == AuthorizationStatus.blocked


async def test_a_removed_tag_is_invalid_and_gone_from_the_api(server: ServerProcess) -> None:
    async with api(server) as client:
        await client.post("/id-tags", json={"id_tag": "AUTH-GONE"})
        removed = await client.delete("/id-tags/AUTH-GONE")
        fetched = await client.get("/id-tags/AUTH-GONE")
    assert removed.status_code == 200, removed.text
    assert_problem(fetched, HTTPStatus.NOT_FOUND, "/api/v1/id-tags/AUTH-GONE")
    async with wallbox(server, "AUTH-GONE-CP") as charger:
        assert await authorize(charger, "AUTH-GONE") == AuthorizationStatus.invalid


async def test_a_second_transaction_beyond_the_cap_is_concurrent_tx(server: ServerProcess) -> None:
    async with api(server) as client:
        await client.post("/id-tags", json={"id_tag": "AUTH-ONE", "max_active_transactions": 1})
    async with wallbox(server, "AUTH-CTX") as charger:
        first = await start(charger, "AUTH-ONE", connector_id=1)
        second = await start(charger, "AUTH-ONE", connector_id=2)
    assert first.id_tag_info["status"] == AuthorizationStatus.accepted
    assert second.id_tag_info["status"] == AuthorizationStatus.concurrent_tx


# ---- the unknown-tag inbox -------------------------------------------------------------------


async def test_an_unknown_card_lands_in_the_inbox_and_is_accepted_after_adoption(
    server: ServerProcess,
) -> None:
    async with wallbox(server, "AUTH-INBOX") as charger:
        first = await authorize(charger, "0A0B0C0D")
        await start(charger, "0A0B0C0D", connector_id=1)
        async with api(server) as client:
            inbox = (await client.get("/id-tags/unknown")).json()["items"]
            adopted = await client.post(
                "/id-tags/unknown/0A0B0C0D/adopt", json={"owner": "Bo", "label": "spare"}
            )
            inbox_after = (await client.get("/id-tags/unknown")).json()["items"]
        after = await authorize(charger, "0A0B0C0D")
    [seen] = [row for row in inbox if row["id_tag"] == "0A0B0C0D"]
    assert first == AuthorizationStatus.invalid
    assert (seen["count"], seen["last_charge_point_id"], seen["last_connector_id"]) == (
        2,
        "AUTH-INBOX",
        1,
    )
    assert seen["last_action"] == "StartTransaction"
    assert adopted.status_code == 201, adopted.text
    # The charger reverses UIDs: the adopted card's printed UID is the idTag reversed.
    assert (adopted.json()["owner"], adopted.json()["card_uid"]) == ("Bo", "0D0C0B0A")
    assert "0A0B0C0D" not in [row["id_tag"] for row in inbox_after]
    assert after == AuthorizationStatus.accepted


async def test_a_card_blocked_from_the_inbox_is_blocked(server: ServerProcess) -> None:
    async with wallbox(server, "AUTH-INBOX-BLOCK") as charger:
        await authorize(charger, "BADC0FFEE0")
        async with api(server) as client:
            blocked = await client.post("/id-tags/unknown/BADC0FFEE0/block")
        assert blocked.status_code == 201, blocked.text
        assert await authorize(charger, "BADC0FFEE0") == AuthorizationStatus.blocked


async def test_adopting_a_tag_that_is_not_in_the_inbox_is_a_404(server: ServerProcess) -> None:
    async with api(server) as client:
        answer = await client.post("/id-tags/unknown/NEVER-SEEN/adopt", json={"owner": "Bo"})
    problem = assert_problem(
        answer, HTTPStatus.NOT_FOUND, "/api/v1/id-tags/unknown/NEVER-SEEN/adopt"
    )
    assert problem["detail"] == "id tag 'NEVER-SEEN' is not in the unknown-tag inbox"


# ---- chargers without authorization ----------------------------------------------------------


async def test_auth_enabled_false_charging_is_recorded_against_the_default_owner(
    server: ServerProcess,
) -> None:
    async with wallbox(server, "AUTH-FREE") as charger:
        async with api(server) as client:
            policy = await client.put(
                "/charge-points/AUTH-FREE/authorization", json={"default_owner": "Household"}
            )
        started = await start(charger, "NoAuthorization")
    assert policy.status_code == 200, policy.text
    assert started.id_tag_info["status"] == AuthorizationStatus.accepted
    assert owner_of(server, started.transaction_id) == "Household"


async def test_free_vend_starts_a_session_when_a_connector_goes_preparing(
    server: ServerProcess,
) -> None:
    async with wallbox(server, "AUTH-VEND") as charger:
        async with api(server) as client:
            policy = await client.put(
                "/charge-points/AUTH-VEND/authorization",
                json={"default_owner": "Shop", "free_vend": True, "free_vend_id_tag": "SHOP-FV"},
            )
        await preparing(charger, connector_id=1)
        [remote_start] = await remote_starts(charger, 1)
        started = await start(charger, remote_start["id_tag"], remote_start["connector_id"])
    assert policy.json()["remote_start_id_tag"] == "SHOP-FV"
    assert remote_start == {"connector_id": 1, "id_tag": "SHOP-FV"}
    assert started.id_tag_info["status"] == AuthorizationStatus.accepted
    assert owner_of(server, started.transaction_id) == "Shop"


async def test_free_vend_sends_nothing_while_the_charger_is_pending_adoption(
    inbox_server: ServerProcess,
) -> None:
    async with library_charger(inbox_server.ocpp_url, "AUTH-PENDING") as charger:
        assert (await boot(charger)).status == RegistrationStatus.pending
        async with api(inbox_server) as client:
            policy = await client.put(
                "/charge-points/AUTH-PENDING/authorization", json={"free_vend": True}
            )
            assert policy.status_code == 200, policy.text
            assert await preparing(charger) is None  # CALLERROR SecurityError: not accepted yet
            await asyncio.sleep(1.0)
            adopted = await client.post("/charge-points/AUTH-PENDING/adopt")
            assert adopted.status_code == 200, adopted.text
        assert (await boot(charger)).status == RegistrationStatus.accepted
        await preparing(charger)
        received = await remote_starts(charger, 1)  # with any sent while pending
    assert received == [{"connector_id": 1, "id_tag": "FreeVend"}]


async def test_the_policy_of_an_unknown_charger_is_a_404(server: ServerProcess) -> None:
    async with api(server) as client:
        answer = await client.put("/charge-points/NOBODY/authorization", json={"free_vend": True})
    assert_problem(answer, HTTPStatus.NOT_FOUND, "/api/v1/charge-points/NOBODY/authorization")
