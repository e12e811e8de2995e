"""The web UI in real headless Chromium: Debian's /usr/bin/chromium driven by Playwright for
Python (Playwright's own browser download is unreachable here; ``dev.py test`` installs the
Debian package), against a real ``chargedeck serve`` process.

Fixtures: ``web_server`` (a server per module, default inbox policy, with its first admin
password), ``page`` (a fresh browser profile per test), ``logged_in`` (that page logged in as
admin); helpers: :func:`screenshot` (PNG under test-artifacts/screenshots/) and
:class:`ThreadCharger` (a PyPI ``ocpp`` charger on its own event loop, since Playwright's sync
API owns the test's thread).

On 2 busy cores every wait is Playwright's auto-waiting ``expect`` with a generous timeout;
there is no fixed sleep.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Generous: a page load, an API round trip and an SSE event on two cores shared by eight.
UI_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the default policy (unknown chargers wait in the inbox)."""
    folder = tmp_path_factory.mktemp("web")
    with running_server(f"sqlite:///{folder / 'chargedeck.db'}", cwd=folder) as server:
        yield server
        assert server.error_lines() == [], server.log_text()


@pytest.fixture(scope="module")
def admin_password(web_server: ServerProcess) -> str:
    password = web_server.first_admin_password()
    assert password, web_server.log_text()
    return password


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `python dev.py test` (installs it)"
    with sync_playwright() as p:
        yield p


@pytest.fixture
def context(
    playwright: Playwright, tmp_path: Path, web_server: ServerProcess
) -> Iterator[BrowserContext]:
    """A fresh Chromium profile (user data dir) per test, phone-sized or not by the test."""
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=f"http://127.0.0.1:{web_server.http_port}",
        viewport={"width": 1280, "height": 900},
    )
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on a JavaScript error."""
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert errors == [], errors


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("logout")).to_be_visible()


@pytest.fixture
def logged_in(page: Page, admin_password: str) -> Page:
    log_in(page, "admin", admin_password)
    return page


def wait_live(page: Page) -> None:
    """Until the page's event stream is open (so no event a test causes next is missed)."""
    expect(page.locator(".live-dot.on")).to_have_count(1)


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as test-artifacts/screenshots/<name>.png and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, path
    return path


class ThreadCharger:
    """A PyPI ``ocpp`` charger on an event loop of its own thread: connects to ``url/<id>``
    (with Basic ``password``), sends BootNotification and a StatusNotification, and stays
    connected until :meth:`close`. ``connected`` resolves to the boot answer's status, or to the
    exception of a refused handshake."""

    def __init__(self, url: str, charge_point_id: str, password: str | None = None) -> None:
        self.url = url
        self.charge_point_id = charge_point_id
        self.password = password
        self.connected: Future[str] = Future()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._charger: LibraryCharger | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> ThreadCharger:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def call(self, payload: Any, timeout_s: float = 30) -> Any:
        """Send one CALL (an ``ocpp.v16.call`` payload) from the charger; its answer."""
        assert self._loop is not None, "not started"
        assert self._charger is not None, "not connected"
        running = asyncio.run_coroutine_threadsafe(self._charger.call(payload), self._loop)
        return running.result(timeout=timeout_s)

    def received(self) -> list[tuple[str, dict[str, Any]]]:
        """The commands the charger received so far: (action, keyword arguments)."""
        return [] if self._charger is None else list(self._charger.received)

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # its loop closed already: nothing to stop
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "the charger thread did not stop"

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        headers = None
        if self.password is not None:
            pair = f"{self.charge_point_id}:{self.password}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        try:
            async with library_charger(self.url, self.charge_point_id, headers=headers) as cp:
                self._charger = cp
                answer = await self._boot(cp)
                self.connected.set_result(answer)
                await self._stop.wait()
        except (websockets.WebSocketException, OSError, TimeoutError) as exc:
            # A refused handshake is the result some tests wait for.
            if not self.connected.done():
                self.connected.set_exception(exc)
        finally:
            if not self.connected.done():
                self.connected.set_exception(RuntimeError("the charger stopped before booting"))

    @staticmethod
    async def _boot(cp: LibraryCharger) -> str:
        boot = await cp.call(
            call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="PLP1")
        )
        if boot.status == "Accepted":
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
        return str(boot.status)
