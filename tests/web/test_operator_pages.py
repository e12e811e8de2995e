"""The operator pages in real headless Chromium (issue 10): a session's power plot follows a
charger's MeterValues live, a limit changed in the site page reaches the API, the sessions export
holds the session, and every page renders without a script error. A real ``chargedeck serve``
and a PyPI ``ocpp`` charger (run on an event loop of its own thread: Playwright's sync API owns
the test's thread). Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from ocpp.v16 import call
from playwright.sync_api import Page, expect

from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, IdTag
from chargedeck.store import open_store
from tests.support.ocpp_lib_charger import library_charger
from tests.support.server import ServerProcess, running_server
from tests.support.site_charger import SiteCharger, id_tag_of
from tests.web.conftest import screenshot, wait_live

CHARGER = f"WEB-{uuid.uuid4().hex[:6]}"
T = TypeVar("T")


class LoopThread:
    """An asyncio loop on a thread of its own, for the charger."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout_s)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def _setup(database_url: str) -> None:
    """Site "home" (32 A) with CHARGER on its grid connection, and the charger's card."""
    store = await open_store(database_url)
    try:
        now = datetime.now(UTC)
        _site, grid = await store.sites.add_site(
            "home", strategy="equal", limit_a=(32.0, 32.0, 32.0), now=now
        )
        await store.id_tags.add_id_tag(IdTag(id_tag_of(CHARGER)), now=now)
        await store.charge_points.add_charge_point(
            ChargePointId(CHARGER), Registration.REGISTERED, now
        )
        await store.sites.place_charger(
            ChargePointId(CHARGER), circuit_id=grid.id, phase_rotation="L1L2L3", now=now
        )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The harness's server (tests/web/conftest.py), with a site and a charger on it, and load
    control quick enough for a test."""
    folder = tmp_path_factory.mktemp("web-pages")
    database_url = f"sqlite:///{folder / 'chargedeck.db'}"
    # Playwright's sync API may already own this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _setup(database_url)).result()
    args = ["--load-control-debounce-s", "0.1", "--limit-min-interval-s", "0"]
    with running_server(database_url, args, folder) as server:
        yield server
        assert server.error_lines() == [], server.log_text()


@pytest.fixture(scope="module")
def site_id(web_server: ServerProcess) -> int:
    with web_server.api_client() as api:
        sites = api.get("/sites").json()["items"]
    return next(int(site["id"]) for site in sites if site["name"] == "home")


class Charging:
    """The charger connected, booted and charging; ``meter(wh, w)`` sends a MeterValue."""

    def __init__(self, server: ServerProcess) -> None:
        self.loop = LoopThread()
        self.stack = AsyncExitStack()
        self.charger: SiteCharger = self.loop.run(self._start(server))
        self.at = datetime.now(UTC) - timedelta(minutes=5)
        self.register_wh = 0.0

    async def _start(self, server: ServerProcess) -> SiteCharger:
        charger = await self.stack.enter_async_context(
            library_charger(server.ocpp_url, CHARGER, SiteCharger)
        )
        await charger.boot()
        await charger.start_charging()
        return charger

    @property
    def transaction_id(self) -> int:
        assert self.charger.transaction_id is not None
        return self.charger.transaction_id

    def meter(self, power_w: float) -> None:
        """A MeterValue 30 s after the previous one: the power, the register risen by it, and
        16 A on L1."""
        self.at += timedelta(seconds=30)
        self.register_wh += power_w * 30 / 3600
        sampled = [
            {
                "value": f"{self.register_wh:.0f}",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {"value": f"{power_w:g}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        ]
        self.loop.run(
            self.charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=self.transaction_id,
                    meter_value=[{"timestamp": self.at.isoformat(), "sampled_value": sampled}],
                )
            )
        )

    def close(self) -> None:
        try:
            self.loop.run(self.stack.aclose())
        finally:
            self.loop.stop()


@pytest.fixture(scope="module")
def charging(web_server: ServerProcess) -> Iterator[Charging]:
    session = Charging(web_server)
    try:
        yield session
    finally:
        session.close()


def _no_error_message(tab: Page) -> None:
    expect(tab.locator(".message.error")).to_have_count(0)


def test_a_sessions_power_plot_follows_the_chargers_meter_values(
    logged_in: Page, charging: Charging
) -> None:
    page = logged_in
    charging.meter(3600)
    page.goto(f"/#/sessions/{charging.transaction_id}")
    power = page.get_by_test_id("power-plot").locator(".plot")
    expect(power).not_to_have_attribute("data-points", "0")
    before = int(power.get_attribute("data-points") or "0")
    wait_live(page)  # the next values arrive as meter.values events, not by reloading
    charging.meter(7200)
    expect(power).to_have_attribute("data-points", str(before + 1))
    line = power.locator("polyline")
    first = line.get_attribute("points")
    charging.meter(7400)
    expect(power).to_have_attribute("data-points", str(before + 2))
    assert line.get_attribute("points") != first
    energy = page.get_by_test_id("energy-plot").locator(".plot")
    expect(energy).to_have_attribute("data-points", str(before + 2))
    expect(page.get_by_test_id("session-facts")).to_contain_text("7.40 kW")
    _no_error_message(page)
    screenshot(page, "session")


def test_a_limit_changed_in_the_site_page_reaches_the_api(
    logged_in: Page, web_server: ServerProcess, site_id: int, charging: Charging
) -> None:
    page, server = logged_in, web_server
    page.goto(f"/#/sites/{site_id}")
    form = page.get_by_test_id(f"limit-form-{CHARGER}")
    form.locator("input[name=value]").fill("10")
    form.locator("select[name=unit]").select_option("A")
    form.get_by_role("button", name="Set").click()
    expect(page.locator(".message.ok")).to_contain_text(f"Limit of {CHARGER} set")
    with server.api_client() as api:
        site = api.get(f"/sites/{site_id}").json()
    (placed,) = site["grid"]["chargers"]
    assert (placed["limit"]["value"], placed["limit"]["unit"]) == (10.0, "A")

    grid = page.get_by_test_id("circuit-limit-grid")
    grid.locator("input[name=limit]").fill("25")
    grid.get_by_role("button", name="Set limit").click()
    expect(page.locator(".message.ok").last).to_contain_text("Limit of grid changed")
    with server.api_client() as api:
        assert api.get(f"/sites/{site_id}").json()["limit_a"] == [25.0, 25.0, 25.0]
    figures = page.get_by_test_id("circuit-grid").get_by_test_id("phase-figures").first
    expect(figures).to_contain_text("25.0 A")
    _no_error_message(page)
    screenshot(page, "site")
    page.set_viewport_size({"width": 375, "height": 800})
    expect(page.get_by_test_id(f"limit-form-{CHARGER}")).to_be_visible()
    screenshot(page, "site-phone")


def test_the_sessions_export_holds_the_session(logged_in: Page, charging: Charging) -> None:
    page = logged_in
    page.goto("/#/sessions")
    table = page.get_by_test_id("sessions-table")
    expect(table).to_contain_text(f"#{charging.transaction_id}")
    expect(table).to_contain_text(CHARGER)
    with page.expect_download() as csv_download:
        page.get_by_test_id("export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert [(r["transaction_id"], r["charge_point_id"]) for r in rows] == [
        (str(charging.transaction_id), CHARGER)
    ]
    with page.expect_download() as json_download:
        page.get_by_test_id("export-json").click()
    sessions = json.loads(Path(json_download.value.path()).read_text())
    assert [s["transaction_id"] for s in sessions] == [charging.transaction_id]
    _no_error_message(page)
    screenshot(page, "sessions")


@pytest.mark.parametrize(
    ("route", "shows"),
    [
        ("sites", "home"),
        ("id-tags", id_tag_of(CHARGER)),
        ("users", "admin"),
        ("jobs", "Upload firmware"),
        ("settings", "load_control_debounce_s"),
    ],
)
def test_each_operator_page_renders_without_an_error(
    logged_in: Page, route: str, shows: str
) -> None:
    page = logged_in
    page.goto(f"/#/{route}")
    expect(page.locator("#page")).to_contain_text(shows)
    _no_error_message(page)
    screenshot(page, route)


def test_a_card_added_by_its_printed_uid_is_listed(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page, server = logged_in, web_server
    page.goto("/#/id-tags")
    form = page.get_by_test_id("add-id-tag")
    form.locator("input[name=uid]").fill("04 a2 2b 1a 5c 3d 80")
    form.locator("input[name=owner]").fill("Ana")
    form.get_by_role("button", name="Add card").click()
    expect(page.get_by_test_id("id-tags-table")).to_contain_text("04A22B1A5C3D80")
    answer = httpx.get(f"{server.api_url}/id-tags/04A22B1A5C3D80", headers=server.auth_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["owner"] == "Ana"
    page.get_by_test_id("block-04A22B1A5C3D80").click()
    expect(page.get_by_test_id("block-04A22B1A5C3D80")).to_have_text("Unblock")
    answer = httpx.get(f"{server.api_url}/id-tags/04A22B1A5C3D80", headers=server.auth_headers)
    assert answer.json()["blocked"] is True
    form.locator("input[name=uid]").fill("not hex")
    form.get_by_role("button", name="Add card").click()
    expect(page.locator(".message.error")).to_contain_text("is not a hexadecimal digit")


def test_firmware_uploaded_in_the_jobs_page_is_stored(
    logged_in: Page, web_server: ServerProcess, tmp_path: Path
) -> None:
    page = logged_in
    image = tmp_path / "plus-6.7.1.bin"
    image.write_bytes(b"\x7fFIRMWARE" * 1000)
    page.goto("/#/jobs")
    form = page.get_by_test_id("upload-firmware")
    form.get_by_test_id("firmware-file").set_input_files(str(image))
    form.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("firmware-table")).to_contain_text("plus-6.7.1.bin")
    with web_server.api_client() as api:
        (stored,) = api.get("/firmware").json()["items"]
    assert (stored["name"], stored["size"]) == ("plus-6.7.1.bin", 9000)


def test_a_new_token_is_shown_once_and_works(logged_in: Page, web_server: ServerProcess) -> None:
    page = logged_in
    page.goto("/#/users")
    form = page.get_by_test_id("add-token")
    form.locator("input[name=name]").fill("home-assistant")
    form.locator("select[name=scope]").select_option("read")
    form.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").inner_text()
    expect(page.get_by_test_id("tokens-table")).to_contain_text("home-assistant")
    answer = httpx.get(f"{web_server.api_url}/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["token_name"], answer.json()["scope"]) == ("home-assistant", "read")
    page.reload()
    expect(page.get_by_test_id("tokens-table")).to_contain_text("home-assistant")
    expect(page.get_by_test_id("new-token")).to_have_count(0)


def test_an_unknown_card_is_adopted_from_the_inbox(
    logged_in: Page, web_server: ServerProcess, charging: Charging
) -> None:
    page = logged_in
    answer = charging.loop.run(charging.charger.call(call.Authorize(id_tag="STRANGER-1")))
    assert answer.id_tag_info["status"] == "Invalid"
    page.goto("/#/id-tags")
    adopt = page.get_by_test_id("adopt-STRANGER-1")
    adopt.locator("input[name=owner]").fill("Bea")
    adopt.get_by_role("button", name="Adopt").click()
    expect(page.get_by_test_id("id-tags-table")).to_contain_text("STRANGER-1")
    expect(page.get_by_test_id("unknown-tags-table")).to_have_text("No unknown card waiting.")
    with web_server.api_client() as api:
        assert api.get("/id-tags/STRANGER-1").json()["owner"] == "Bea"
    answer = charging.loop.run(charging.charger.call(call.Authorize(id_tag="STRANGER-1")))
    assert answer.id_tag_info["status"] == "Accepted"


def test_a_sub_board_added_in_the_site_page_joins_the_tree(
    logged_in: Page, web_server: ServerProcess, site_id: int
) -> None:
    page = logged_in
    page.goto(f"/#/sites/{site_id}")
    form = page.get_by_test_id("add-circuit")
    form.locator("input[name=name]").fill("carport")
    form.locator("input[name=limit]").fill("16 16 10")
    form.get_by_role("button", name="Add").click()
    board = page.get_by_test_id("circuit-carport")
    expect(board.get_by_test_id("phase-figures").nth(2)).to_contain_text("10.0 A")
    with web_server.api_client() as api:
        (carport,) = api.get(f"/sites/{site_id}").json()["grid"]["circuits"]
    assert (carport["name"], carport["limit_a"]) == ("carport", [16.0, 16.0, 10.0])


def test_the_site_page_shows_the_grid_reading_and_the_household_besides_the_chargers(
    logged_in: Page, site_id: int, charging: Charging
) -> None:
    page = logged_in
    charging.meter(3700)  # 16 A on L1: load control counts it on each phase of the charger
    page.goto(f"/#/sites/{site_id}")
    expect(page.get_by_test_id("now-" + CHARGER + "-1")).to_contain_text("drawing 16.0 A")
    form = page.get_by_test_id("add-reading")
    form.locator("select[name=kind]").select_option("grid")
    form.locator("input[name=value]").fill("20 19.5 21")
    form.get_by_role("button", name="Send").click()
    inputs = page.get_by_test_id("site-inputs")
    expect(inputs).to_contain_text("L2 19.5 A")
    expect(inputs).to_contain_text("in use")
    expect(page.get_by_test_id("household")).to_contain_text("L1 4.0 A · L2 3.5 A · L3 5.0 A")


def test_a_site_added_in_the_sites_page_opens_with_its_grid_connection(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page = logged_in
    page.goto("/#/sites")
    form = page.get_by_test_id("add-site")
    form.locator("input[name=name]").fill("office")
    form.locator("input[name=limit_a]").fill("63")
    form.get_by_role("button", name="Add site").click()
    expect(
        page.get_by_test_id("circuit-grid").get_by_test_id("phase-figures").first
    ).to_contain_text("63.0 A")
    with web_server.api_client() as api:
        sites = {s["name"]: s for s in api.get("/sites").json()["items"]}
    assert sites["office"]["limit_a"] == [63.0, 63.0, 63.0]
    assert page.url.endswith(f"#/sites/{sites['office']['id']}")


def test_a_new_account_gets_a_password_shown_once_that_logs_in(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page = logged_in
    page.goto("/#/users")
    form = page.get_by_test_id("add-user")
    form.locator("input[name=username]").fill("carla")
    form.locator("select[name=scope]").select_option("operate")
    form.get_by_role("button", name="Create account").click()
    password = page.get_by_test_id("new-password").inner_text()
    expect(page.get_by_test_id("users-table")).to_contain_text("carla")
    answer = httpx.get(f"{web_server.api_url}/me", auth=("carla", password))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["username"], answer.json()["scope"]) == ("carla", "operate")
