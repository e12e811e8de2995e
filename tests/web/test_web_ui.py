"""The owner's first five minutes in real Chromium: log in, add a charger with the assistant and
watch it connect with the URL and password the assistant shows, see the precise refusal reason
for a wrong password, adopt a charger that connected unannounced, and look at the charger page.
Screenshots of each page are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import httpx
import pytest
import websockets
from ocpp.v16 import call
from playwright.sync_api import Page, expect

from chargedeck.domain.security import REASONS, RejectionReason
from tests.support.server import ServerProcess
from tests.web.conftest import ThreadCharger, log_in, screenshot, wait_live

CHARGER_TIMEOUT_S = 30


def test_login_with_a_wrong_password_shows_why_and_the_right_one_opens_the_dashboard(
    page: Page, admin_password: str
) -> None:
    page.goto("/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")
    log_in(page, "admin", admin_password)
    expect(page).to_have_url(re.compile(r"#/dashboard$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_logout_ends_the_session(logged_in: Page) -> None:
    page = logged_in
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.goto("/#/dashboard")  # the old session no longer opens the dashboard
    expect(page.get_by_test_id("login-form")).to_be_visible()


def add_charger(page: Page, charge_point_id: str) -> tuple[str, str]:
    """Run the assistant's first step; return the (URL, password) it tells the owner to type."""
    page.get_by_role("link", name="Add a charger").first.click()
    wait_live(page)
    page.get_by_test_id("cp-id").fill(charge_point_id)
    page.get_by_test_id("create").click()
    expect(page.get_by_test_id("charge-point-id")).to_have_text(charge_point_id)
    url = page.get_by_test_id("csms-url").inner_text()
    password = page.get_by_test_id("password").inner_text()
    expect(page.get_by_test_id("assistant-state")).to_contain_text("Waiting for")
    return url, password


def test_the_assistant_shows_what_to_type_and_watches_the_charger_connect(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page = logged_in
    url, password = add_charger(page, "garage-1")
    assert url == f"ws://127.0.0.1:{web_server.ocpp_port}/ocpp"
    assert 16 <= len(password) <= 40
    with ThreadCharger(url, "garage-1", password) as charger:
        assert charger.connected.result(timeout=CHARGER_TIMEOUT_S) == "Accepted"
        state = page.get_by_test_id("assistant-state")
        expect(state).to_contain_text("Connected")
        expect(state).to_contain_text("booted (Accepted)")
        screenshot(page, "assistant-connected")
        page.get_by_role("link", name="Open the charger page").click()
        expect(page.get_by_test_id("cp-title")).to_have_text("garage-1")
        expect(page.get_by_test_id("connection")).to_have_text("connected")
        expect(page.get_by_test_id("connector-1").get_by_test_id("status")).to_have_text(
            "Available"
        )
        commands = page.get_by_test_id("commands")
        expect(commands.get_by_role("button", name="Soft reset")).to_be_enabled()
        expect(page.get_by_test_id("security")).to_contain_text("Security profile 1")
        expect(page.get_by_test_id("timeline-table")).to_contain_text("BootNotification")
        commands.get_by_role("button", name="Soft reset").click()
        expect(page.get_by_test_id("command-result")).to_have_text('Reset: {"status":"Accepted"}')
        assert ("Reset", {"type": "Soft"}) in charger.received()
        page.get_by_test_id("timeline-action").fill("Reset")
        page.get_by_role("button", name="Search").click()
        timeline = page.get_by_test_id("timeline-table")
        expect(timeline).to_contain_text('"Reset",{"type":"Soft"}')
        expect(timeline).not_to_contain_text("BootNotification")
        screenshot(page, "charger-page")


def test_a_wrong_password_shows_the_precise_reason_and_what_to_change(logged_in: Page) -> None:
    page = logged_in
    url, _ = add_charger(page, "garage-2")
    with (
        ThreadCharger(url, "garage-2", "a-wrong-password-of-20") as charger,
        pytest.raises(websockets.InvalidStatus),
    ):
        charger.connected.result(timeout=CHARGER_TIMEOUT_S)
    expect(page.get_by_test_id("assistant-state")).to_have_text("Refused: wrong password")
    reason = page.get_by_test_id("assistant-reason")
    expect(reason).to_contain_text(REASONS[RejectionReason.WRONG_PASSWORD].remedy)
    expect(reason).to_contain_text(REASONS[RejectionReason.WRONG_PASSWORD].charger_shows)
    screenshot(page, "assistant-refused")


def test_an_unknown_charger_is_adopted_from_the_dashboard(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page = logged_in
    wait_live(page)
    with ThreadCharger(f"ws://127.0.0.1:{web_server.ocpp_port}/ocpp", "stray-1") as charger:
        assert charger.connected.result(timeout=CHARGER_TIMEOUT_S) == "Pending"
        adopt = page.get_by_test_id("adopt-stray-1")
        expect(adopt).to_be_visible()
        screenshot(page, "dashboard-inbox")
        adopt.click()
        expect(page.locator(".message.ok")).to_contain_text("stray-1 adopted")
        expect(page.get_by_test_id("adopt-stray-1")).to_have_count(0)
    with web_server.api_client() as api:
        record = api.get("/charge-points/stray-1").json()
    assert record["registration"] == "registered"
    assert record["adopted_at"] is not None


def test_the_dashboard_lists_the_chargers_and_fits_a_phone(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page = logged_in
    with httpx.Client(base_url=web_server.api_url, headers=web_server.auth_headers) as api:
        assert api.post("/charge-points", json={"id": "driveway-1"}).status_code == 201
    page.reload()
    card = page.get_by_test_id("charger-driveway-1")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("connection")).to_have_text("offline")
    screenshot(page, "dashboard")
    page.set_viewport_size({"width": 375, "height": 800})
    expect(card).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the dashboard is {width} px wide on a 375 px phone"
    screenshot(page, "dashboard-phone")


def test_the_line_plot_draws_one_line_per_series_with_round_ticks(logged_in: Page) -> None:
    page = logged_in
    drawn = page.evaluate(
        """async () => {
          const { linePlot, niceTicks, timeTicks } = await import("/web/plot.js");
          const box = document.createElement("div");
          document.body.append(box);
          const plot = linePlot(box, { yLabel: "kW" });
          const t0 = Date.parse("2026-01-01T10:00:00Z");
          plot.update([
            { name: "L1", points: [[t0, 0], [t0 + 60000, 7.4], [t0 + 120000, 11]] },
            { name: "L2", points: [[t0 + 60000, 3.7]] },
          ]);
          plot.add(1, [t0 + 120000, 3.6]);
          const lines = [...box.querySelectorAll("polyline")];
          return {
            lines: lines.map((l) => l.getAttribute("points").split(" ").length),
            points: box.querySelector(".plot").dataset.points,
            ticks: niceTicks(0, 11),
            times: [...box.querySelectorAll("text.tick")].length,
            legend: box.querySelector(".legend").textContent,
            minutes: timeTicks(t0 + 1000, t0 + 241000).map((t) => (t - t0) / 60000),
          };
        }"""
    )
    assert drawn["lines"] == [3, 2]
    assert drawn["points"] == "5"
    assert drawn["ticks"] == [0, 5, 10, 15]  # 1, 2 or 5 times a power of ten; 11 enclosed
    assert drawn["legend"] == "L1 (kW)L2 (kW)"
    assert drawn["minutes"] == [1, 2, 3, 4]  # four minutes: a tick on each whole minute
    assert drawn["times"] == 4 + 5  # y ticks 0, 5, 10, 15; x ticks every 30 s over 2 minutes


def test_live_power_reaches_the_charger_page_plot_and_the_dashboard(
    logged_in: Page, web_server: ServerProcess
) -> None:
    page = logged_in
    with httpx.Client(base_url=web_server.api_url, headers=web_server.auth_headers) as api:
        assert api.post("/charge-points", json={"id": "carport-1"}).status_code == 201
        assert api.post("/id-tags", json={"id_tag": "CARD-1"}).status_code == 201
    url = f"ws://127.0.0.1:{web_server.ocpp_port}/ocpp"

    def power(seconds: int, watts: str, transaction_id: int | None) -> None:
        charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[
                    {
                        "timestamp": f"2026-01-01T10:00:{seconds:02d}Z",
                        "sampledValue": [
                            {"value": watts, "measurand": "Power.Active.Import", "unit": "W"}
                        ],
                    }
                ],
            )
        )

    with ThreadCharger(url, "carport-1") as charger:
        assert charger.connected.result(timeout=CHARGER_TIMEOUT_S) == "Accepted"
        started = charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="CARD-1", meter_start=0, timestamp="2026-01-01T09:59:59Z"
            )
        )
        power(0, "3700", started.transaction_id)  # stored before the page opens
        page.goto("/#/charge-points/carport-1")
        expect(page.get_by_test_id("connection")).to_have_text("connected")
        expect(page.get_by_test_id("connector-1").get_by_test_id("session")).to_contain_text(
            f"Session #{started.transaction_id}"
        )
        plot = page.get_by_test_id("power-plot").locator(".plot")
        expect(plot).to_have_attribute("data-points", "1")  # the session's stored series
        wait_live(page)
        power(10, "7400", started.transaction_id)  # live
        expect(plot).to_have_attribute("data-points", "2")
        expect(plot.locator("polyline")).to_have_count(1)
        screenshot(page, "charger-page-session")
        page.get_by_role("link", name="Dashboard").click()
        wait_live(page)
        connector = page.get_by_test_id("connector-carport-1-1")
        # The dashboard has rendered (and listens) before the next reading is sent: the stream
        # stays open across pages, so wait_live alone does not wait for the page's module.
        expect(connector).to_be_visible()
        power(20, "11000", started.transaction_id)
        expect(connector.get_by_test_id("power")).to_have_text(" 11.00 kW")
