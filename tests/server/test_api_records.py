"""Tariffs, a charger's tariff, energy in transaction views and session reports, over the API.

Against a real ``chargedeck serve`` (policy accept), with sessions recorded by a PyPI ``ocpp``
charger; ``tests/e2e/test_exports.py`` covers large exports.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, bearer, create_api_token, running_server

NIGHT = {
    "name": "night",
    "currency": "eur",
    "price_per_kwh": "0.30",
    "time_zone": "Europe/Madrid",
    "windows": [{"start": "22:00", "end": "06:00", "price_per_kwh": "0.12"}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("records")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.api_client() as client:
        yield client


def problem(answer: httpx.Response, status: HTTPStatus) -> str:
    assert answer.status_code == status.value, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail: str = answer.json()["detail"]
    return detail


def test_a_tariff_is_added_and_listed(api: httpx.Client) -> None:
    created = api.post("/tariffs", json={**NIGHT, "name": "listed"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["currency"], body["price_per_kwh"], body["is_default"]) == ("EUR", "0.30", False)
    assert body["windows"] == [{"start": "22:00", "end": "06:00", "price_per_kwh": "0.12"}]
    listed = api.get("/tariffs").json()["items"]
    assert body in listed


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"currency": "XYZ"}, "currency 'XYZ' is not an ISO 4217 code"),
        ({"price_per_kwh": "-0.10"}, "must be a finite amount of 0 or more"),
        ({"time_zone": "Europe/Atlantis"}, "'Europe/Atlantis' is not in the IANA"),
        (
            {"windows": [{"start": "25:00", "end": "06:00", "price_per_kwh": "0.1"}]},
            "'25:00' is not a time of day",
        ),
        (
            {
                "windows": [
                    {"start": "22:00", "end": "06:00", "price_per_kwh": "0.1"},
                    {"start": "05:00", "end": "07:00", "price_per_kwh": "0.2"},
                ]
            },
            "overlap",
        ),
    ],
)
def test_a_tariff_that_breaks_a_rule_is_refused_with_the_rule(
    api: httpx.Client, change: dict[str, Any], detail: str
) -> None:
    answer = api.post("/tariffs", json={**NIGHT, "name": "refused", **change})
    assert detail in problem(answer, HTTPStatus.UNPROCESSABLE_ENTITY)


def test_two_tariffs_cannot_share_a_name(api: httpx.Client) -> None:
    assert api.post("/tariffs", json={**NIGHT, "name": "twice"}).status_code == 201
    answer = api.post("/tariffs", json={**NIGHT, "name": "twice"})
    assert "a tariff named 'twice' exists" in problem(answer, HTTPStatus.CONFLICT)


def test_a_tariff_for_an_unknown_charger_or_an_unknown_tariff_is_refused(
    api: httpx.Client,
) -> None:
    answer = api.put("/charge-points/NOBODY/tariff", json={"tariff_id": None})
    assert "'NOBODY' is not known" in problem(answer, HTTPStatus.NOT_FOUND)


def test_a_read_token_cannot_set_a_tariff(server: ServerProcess) -> None:
    token = create_api_token(server.database_url, "read", name="reader")
    with httpx.Client(base_url=server.api_url, headers=bearer(token), timeout=30) as client:
        answer = client.put("/charge-points/ANY/tariff", json={"tariff_id": None})
    assert answer.status_code == HTTPStatus.FORBIDDEN


async def test_a_session_is_reported_with_its_chargers_tariff(server: ServerProcess) -> None:
    # 2026-01-10 21:00-23:00 UTC is 22:00-00:00 in Madrid: all of it at the night price.
    started_at = datetime(2026, 1, 10, 21, tzinfo=UTC)
    async with library_charger(server.ocpp_url, "PRICED1") as charger:
        await charger.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="04A2BC19",
                meter_start=10_000,
                timestamp=started_at.isoformat(),
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=20_000,
                timestamp=(started_at + timedelta(hours=2)).isoformat(),
                transaction_id=started.transaction_id,
            )
        )
    async with server.async_api_client() as api:
        tariff = (await api.post("/tariffs", json={**NIGHT, "name": "priced"})).json()
        assigned = await api.put("/charge-points/PRICED1/tariff", json={"tariff_id": tariff["id"]})
        page = (await api.get("/reports/sessions?charge_point_id=PRICED1&tz=Europe/Madrid")).json()
        unknown = await api.put("/charge-points/PRICED1/tariff", json={"tariff_id": 999_999})
    assert assigned.json() == {"charge_point_id": "PRICED1", "tariff_id": tariff["id"]}
    [session] = page["items"]
    assert (session["started_at"], session["stopped_at"]) == (
        "2026-01-10T22:00:00+01:00",
        "2026-01-11T00:00:00+01:00",
    )
    assert (session["energy_wh"], session["energy_kwh"], session["duration_s"]) == (
        10_000,
        "10.000",
        7200,
    )
    assert (session["cost"], session["currency"], session["tariff"]) == ("1.20", "EUR", "priced")
    assert "there is no tariff 999999" in problem(unknown, HTTPStatus.UNPROCESSABLE_ENTITY)


async def test_an_open_transaction_says_its_energy_is_not_known_yet(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "OPEN1") as charger:
        await charger.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await charger.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="04A2BC19",
                meter_start=500,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
    async with server.async_api_client() as api:
        body = (await api.get(f"/transactions/{started.transaction_id}")).json()
        listed = (await api.get("/transactions?charge_point_id=OPEN1")).json()["items"]
    assert (body["active"], body["energy_wh"], body["reconciliation"]) == (True, None, None)
    assert [flag["flag"] for flag in body["energy_flags"]] == ["missing_stop"]
    assert listed[0]["energy_flags"] == body["energy_flags"]
