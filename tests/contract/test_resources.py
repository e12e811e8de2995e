"""The resources of server/api/resources.py against a real server and a PyPI ``ocpp`` charger:
connectors with their session and limit, a session's meter values page by page, and
configuration writes guarded by ETags (RFC 9110 §13.1.1: a stale If-Match is a 412)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import ConfigurationStatus

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server


class ConfigurableCharger(LibraryCharger):
    """Keeps its configuration: ChangeConfiguration changes what GetConfiguration reports, an
    unknown key is NotSupported (OCPP 1.6 §5.3), a read-only key Rejected."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection)
        self.keys = {"HeartbeatInterval": "60", "MeterValueSampleInterval": "60"}
        self.readonly = {"NumberOfConnectors": "1"}

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        wanted = kwargs.get("key")
        entries = [
            {"key": k, "readonly": k in self.readonly, "value": v}
            for k, v in {**self.keys, **self.readonly}.items()
            if wanted is None or k in wanted
        ]
        return call_result.GetConfiguration(configuration_key=entries, unknown_key=[])

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **kwargs: Any) -> Any:
        if key in self.readonly:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
        if key not in self.keys:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.not_supported)
        self.keys[key] = value
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("resources")
    with running_server(
        f"sqlite:///{folder / 'chargedeck.db'}", ["--unknown-charge-points", "accept"], folder
    ) as s:
        yield s
        assert s.error_lines() == [], s.log_text()


def assert_problem(answer: httpx.Response, status: HTTPStatus, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["type"].endswith("/" + kind), problem
    assert problem["status"] == status
    assert problem["title"] == status.phrase
    assert problem["detail"]
    return problem


async def _boot(charger: LibraryCharger) -> None:
    await charger.call(call.BootNotification(charge_point_vendor="Test", charge_point_model="T1"))


# ---- connectors -------------------------------------------------------------------------------


async def test_a_connector_shows_its_status_its_running_session_and_its_limit(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-CONN") as charger:
        await _boot(charger)
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        started = await charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG1", meter_start=1200, timestamp="2026-03-01T10:00:00Z"
            )
        )
        async with server.async_api_client() as client:
            capped = await client.put(
                "/charge-points/RES-CONN/limit", json={"value": 16, "unit": "A"}
            )
            assert capped.status_code == 200, capped.text
            # Load control recomputes in the background: read until two reads agree.
            for _ in range(20):
                answer = await client.get("/charge-points/RES-CONN/connectors")
                limits = await client.get("/charge-points/RES-CONN/effective-limits")
                assert answer.status_code == 200, answer.text
                [connector] = [c for c in answer.json()["items"] if c["connector_id"] == 1]
                expected = [
                    {k: v for k, v in item.items() if k not in ("charge_point_id", "connector_id")}
                    for item in limits.json()["items"]
                    if item["connector_id"] == 1
                ]
                if [connector["limit"]] == expected:
                    break
                await asyncio.sleep(0.1)
    assert connector["status"] == "Charging"
    assert connector["error_code"] == "NoError"
    assert connector["transaction"]["id"] == started.transaction_id
    assert connector["transaction"]["id_tag"] == "TAG1"
    assert connector["transaction"]["meter_start"] == 1200
    assert expected, limits.text  # the operator limit puts the connector under load control
    assert [connector["limit"]] == expected


async def test_connectors_of_an_unknown_charge_point_are_a_404(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        answer = await client.get("/charge-points/NOBODY-HERE/connectors")
    assert_problem(answer, HTTPStatus.NOT_FOUND, "unknown-charge-point")


# ---- meter values -----------------------------------------------------------------------------


async def test_meter_values_of_a_session_come_page_by_page_each_exactly_once(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-METER") as charger:
        await _boot(charger)
        started = await charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG2", meter_start=0, timestamp="2026-03-01T10:00:00Z"
            )
        )
        for minute in range(5):
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {
                            "timestamp": f"2026-03-01T10:0{minute + 1}:00Z",
                            "sampledValue": [
                                {
                                    "value": str(100 * (minute + 1)),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                }
                            ],
                        }
                    ],
                )
            )
    pages: list[list[int | None]] = []
    cursor = None
    path = f"/transactions/{started.transaction_id}/meter-values"
    async with server.async_api_client() as client:
        while len(pages) < 10:
            params = {"limit": "2"} | ({} if cursor is None else {"cursor": cursor})
            answer = await client.get(path, params=params)
            assert answer.status_code == 200, answer.text
            pages.append([item["energy_wh"] for item in answer.json()["items"]])
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                break
    assert pages == [[100, 200], [300, 400], [500]]


async def test_meter_values_of_an_unknown_transaction_are_a_404_and_a_bad_cursor_a_400(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        unknown = await client.get("/transactions/2147483000/meter-values")
        bad_cursor = await client.get("/transactions/1/meter-values", params={"cursor": "x"})
        bad_limit = await client.get("/transactions/1/meter-values", params={"limit": "0"})
    assert_problem(unknown, HTTPStatus.NOT_FOUND, "unknown-transaction")
    assert_problem(bad_cursor, HTTPStatus.BAD_REQUEST, "invalid-cursor")
    assert_problem(bad_limit, HTTPStatus.BAD_REQUEST, "invalid-query")


# ---- configuration writes with ETags ----------------------------------------------------------


async def test_a_configuration_write_with_the_current_etag_changes_the_key_and_the_etag(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-CFG1", ConfigurableCharger) as charger:
        await _boot(charger)
        async with server.async_api_client() as client:
            read = await client.post("/charge-points/RES-CFG1/configuration/refresh")
            assert read.status_code == 200, read.text
            etag = read.headers["etag"]
            assert (await client.get("/charge-points/RES-CFG1/configuration")).headers[
                "etag"
            ] == etag
            written = await client.put(
                "/charge-points/RES-CFG1/configuration/HeartbeatInterval",
                json={"value": "300"},
                headers={"If-Match": etag},
            )
            after = await client.get("/charge-points/RES-CFG1/configuration")
    assert written.status_code == 200, written.text
    assert written.json() == {
        "charge_point_id": "RES-CFG1",
        "key": "HeartbeatInterval",
        "status": "Accepted",
        "reboot_required": False,
        "value": "300",
    }
    assert charger.keys["HeartbeatInterval"] == "300"
    assert written.headers["etag"] != etag
    assert after.headers["etag"] == written.headers["etag"]


async def test_a_configuration_write_with_a_stale_etag_is_a_412_and_reaches_no_charger(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-CFG2", ConfigurableCharger) as charger:
        await _boot(charger)
        async with server.async_api_client() as client:
            stale = (await client.post("/charge-points/RES-CFG2/configuration/refresh")).headers[
                "etag"
            ]
            first = await client.put(
                "/charge-points/RES-CFG2/configuration/MeterValueSampleInterval",
                json={"value": "30"},
                headers={"If-Match": stale},
            )
            assert first.status_code == 200, first.text
            second = await client.put(
                "/charge-points/RES-CFG2/configuration/HeartbeatInterval",
                json={"value": "900"},
                headers={"If-Match": stale},
            )
    problem = assert_problem(second, HTTPStatus.PRECONDITION_FAILED, "precondition-failed")
    assert "changed since you read it" in problem["detail"]
    assert second.headers["etag"] == first.headers["etag"]
    assert charger.keys["HeartbeatInterval"] == "60"


async def test_a_weak_etag_never_matches_and_a_write_without_if_match_is_allowed(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-CFG3", ConfigurableCharger) as charger:
        await _boot(charger)
        async with server.async_api_client() as client:
            etag = (await client.post("/charge-points/RES-CFG3/configuration/refresh")).headers[
                "etag"
            ]
            weak = await client.put(
                "/charge-points/RES-CFG3/configuration/HeartbeatInterval",
                json={"value": "120"},
                headers={"If-Match": f"W/{etag}"},
            )
            unguarded = await client.put(
                "/charge-points/RES-CFG3/configuration/HeartbeatInterval", json={"value": "120"}
            )
    assert_problem(weak, HTTPStatus.PRECONDITION_FAILED, "precondition-failed")
    assert unguarded.status_code == 200, unguarded.text
    assert charger.keys["HeartbeatInterval"] == "120"


async def test_read_only_secret_and_unknown_keys_are_refused_with_a_sentence(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-CFG4", ConfigurableCharger) as charger:
        await _boot(charger)
        async with server.async_api_client() as client:
            await client.post("/charge-points/RES-CFG4/configuration/refresh")
            base = "/charge-points/RES-CFG4/configuration/"
            readonly = await client.put(base + "NumberOfConnectors", json={"value": "2"})
            secret = await client.put(base + "AuthorizationKey", json={"value": "0" * 40})
            unknown = await client.put(base + "VendorSpecificThing", json={"value": "1"})
            bad_value = await client.put(base + "HeartbeatInterval", json={"value": "soon"})
            bad_body = await client.put(base + "HeartbeatInterval", content=b"{not json")
    assert (
        "read-only"
        in assert_problem(readonly, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-value")["detail"]
    )
    assert (
        "password"
        in assert_problem(secret, HTTPStatus.UNPROCESSABLE_ENTITY, "secret-configuration-key")[
            "detail"
        ]
    )
    assert (
        "NotSupported"
        in assert_problem(unknown, HTTPStatus.CONFLICT, "configuration-refused")["detail"]
    )
    assert_problem(bad_value, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-value")
    assert_problem(bad_body, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body")
    assert charger.keys == {"HeartbeatInterval": "60", "MeterValueSampleInterval": "60"}


async def test_a_configuration_write_to_a_charger_not_connected_is_a_409(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        added = await client.post("/charge-points", json={"id": "RES-OFFLINE"})
        assert added.status_code == 201, added.text
        answer = await client.put(
            "/charge-points/RES-OFFLINE/configuration/HeartbeatInterval", json={"value": "300"}
        )
    assert_problem(answer, HTTPStatus.CONFLICT, "charge-point-not-connected")


async def test_a_template_replaced_with_a_stale_etag_is_a_412_and_keeps_its_keys(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        added = await client.post(
            "/configuration-templates",
            json={"name": "res-template", "keys": {"HeartbeatInterval": "300"}},
        )
        assert added.status_code == 201, added.text
        read = await client.get("/configuration-templates/res-template")
        etag = read.headers["etag"]
        first = await client.put(
            "/configuration-templates/res-template",
            json={"keys": {"HeartbeatInterval": "600"}},
            headers={"If-Match": etag},
        )
        second = await client.put(
            "/configuration-templates/res-template",
            json={"keys": {"HeartbeatInterval": "900"}},
            headers={"If-Match": etag},
        )
        now = await client.get("/configuration-templates/res-template")
        missing = await client.get("/configuration-templates/no-such-template")
    assert read.status_code == 200, read.text
    assert read.json()["keys"] == {"HeartbeatInterval": "300"}
    assert first.status_code == 200, first.text
    assert first.headers["etag"] != etag
    assert_problem(second, HTTPStatus.PRECONDITION_FAILED, "precondition-failed")
    assert now.json()["keys"] == {"HeartbeatInterval": "600"}
    assert now.headers["etag"] == first.headers["etag"]
    assert_problem(missing, HTTPStatus.NOT_FOUND, "unknown-template")


# ---- cursor pagination of the history lists ---------------------------------------------------


async def _all_pages(
    client: httpx.AsyncClient, path: str, field: str, first: dict[str, str] | None = None
) -> list[list[Any]]:
    """Follow next_cursor with pages of 2 from the query ``first``; the ``field`` of each item,
    page by page."""
    pages: list[list[Any]] = []
    cursor = None
    while len(pages) < 10:
        params = {"limit": "2"} | (first or {}) | ({} if cursor is None else {"cursor": cursor})
        answer = await client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        pages.append([item[field] for item in answer.json()["items"]])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    return pages


async def test_status_history_and_security_events_come_page_by_page_newest_first(
    server: ServerProcess,
) -> None:
    async with library_charger(server.ocpp_url, "RES-HISTORY") as charger:
        await _boot(charger)
        for connector_id in (1, 2, 3):
            await charger.call(
                call.StatusNotification(
                    connector_id=connector_id, error_code="NoError", status="Available"
                )
            )
        for minute in range(3):
            await charger.call(
                call.SecurityEventNotification(
                    type="SettingSystemTime",
                    timestamp=f"2026-03-01T10:0{minute}:00Z",
                    tech_info="contract test",
                )
            )
    async with server.async_api_client() as client:
        history = await _all_pages(
            client, "/charge-points/RES-HISTORY/status-history", "connector_id"
        )
        events = await _all_pages(
            client, "/security-events", "timestamp", {"charge_point_id": "RES-HISTORY"}
        )
    assert history == [[3, 2], [1]]
    assert [[t[:16] for t in page] for page in events] == [
        ["2026-03-01T10:02", "2026-03-01T10:01"],
        ["2026-03-01T10:00"],
    ]


async def test_a_body_declared_as_anything_but_json_is_a_415(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        answer = await client.post(
            "/charge-points",
            content=b'{"id": "RES-TEXT"}',
            headers={"Content-Type": "text/plain"},
        )
        as_curl_sends_it = await client.post(
            "/charge-points",
            content=b'{"id": "RES-CURL"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert (
        "application/json"
        in assert_problem(answer, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")[
            "detail"
        ]
    )
    assert as_curl_sends_it.status_code == 201, as_curl_sends_it.text


async def test_a_wrong_method_is_a_405_that_names_the_allowed_ones(server: ServerProcess) -> None:
    async with server.async_api_client() as client:
        answer = await client.request("TRACE", "/charge-points")
    assert_problem(answer, HTTPStatus.METHOD_NOT_ALLOWED, "method-not-allowed")
    assert answer.headers["allow"] == "GET, HEAD, POST"


async def test_charge_points_come_page_by_page_when_asked_and_whole_when_not(
    server: ServerProcess,
) -> None:
    async with server.async_api_client() as client:
        for name in ("RES-PAGE-C", "RES-PAGE-A", "RES-PAGE-B"):
            added = await client.post("/charge-points", json={"id": name})
            assert added.status_code == 201, added.text
        whole = await client.get("/charge-points")
        pages = await _all_pages(client, "/charge-points", "id", {"cursor": "RES-PAGE-"})
        too_long = await client.get("/charge-points", params={"cursor": "x" * 49})
    assert whole.json()["next_cursor"] is None
    ids = [item["id"] for item in whole.json()["items"]]
    assert ids == sorted(ids)
    assert {"RES-PAGE-A", "RES-PAGE-B", "RES-PAGE-C"} <= set(ids)
    after = [i for i in ids if i > "RES-PAGE-"]
    assert [i for page in pages for i in page] == after
    assert all(len(page) <= 2 for page in pages)
    assert_problem(too_long, HTTPStatus.BAD_REQUEST, "invalid-cursor")
