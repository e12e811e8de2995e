"""MQTT input of grid meter and solar readings (issue 6), against the real Mosquitto.

The machine's broker listens on 127.0.0.1:1883 (dev.py starts it); every test uses a topic
prefix of its own so parallel runs do not see each other's messages. Tests about a broker that
is down or drops start a second Mosquitto on a free port and stop it by its pid.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargedeck.clock import SystemClock
from chargedeck.config import Settings
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import Stations
from chargedeck.server.mqtt import (
    BadReading,
    MqttBroker,
    MqttInput,
    parse_grid_payload,
    parse_mqtt_url,
    parse_solar_payload,
)
from chargedeck.store import Store, open_store
from chargedeck.store.sites import SiteReadingRecord, SiteRecord
from tests.support.mqtt import BROKER_HOST, BROKER_PORT, publish
from tests.support.server import running_server

WAIT_S = 10.0
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"  # sbin: not on every PATH
SITE = "home"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@dataclass
class Rig:
    store: Store
    services: CsmsServices
    site: SiteRecord
    prefix: str


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A real store with one site, and real services whose load control is started."""
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    services = CsmsServices(
        store=store, settings=Settings(), clock=SystemClock(), stations=Stations()
    )
    services.load_control.start(services)
    site, _ = await store.sites.add_site(
        SITE, strategy="equal", limit_a=(32.0, 32.0, 32.0), now=services.clock.now()
    )
    try:
        yield Rig(store, services, site, f"test-{uuid.uuid4().hex}")
    finally:
        await services.load_control.close()
        await store.close()


@pytest.fixture
async def started(rig: Rig) -> AsyncIterator[MqttInput]:
    """The input on the machine's broker, subscribed."""
    mqtt_input = MqttInput(
        rig.services, mqtt_url=f"mqtt://{BROKER_HOST}:{BROKER_PORT}", topic_prefix=rig.prefix
    )
    mqtt_input.start()
    try:
        await asyncio.wait_for(mqtt_input.connected.wait(), WAIT_S)
        yield mqtt_input
    finally:
        await mqtt_input.stop()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S:.0f} s: {what}")
        await asyncio.sleep(0.02)


async def stored_reading(rig: Rig, kind: str) -> SiteReadingRecord:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        layout = await rig.store.sites.layout(rig.site.id)
        found = [reading for reading in layout.readings if reading.kind == kind]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} reading stored within {WAIT_S:.0f} s")


def warnings_of(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "chargedeck.server.mqtt"
        and record.levelno == logging.WARNING
        and text in record.getMessage()
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((BROKER_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def fast_retrying_input(rig: Rig, port: int) -> MqttInput:
    """An input on the broker at ``port`` that retries every 0.05 .. 0.2 s."""
    return MqttInput(
        rig.services,
        mqtt_url=f"mqtt://{BROKER_HOST}:{port}",
        topic_prefix=rig.prefix,
        reconnect_first_s=0.05,
        reconnect_max_s=0.2,
    )


# stop_before_the_broker_goes: stopping the input in the instant its broker dies (the drop
# not yet read) makes aiomqtt 2.5.1 queue a writer for a socket paho then closes, and asyncio
# logs that at ERROR. Harmless, and only at shutdown; the tests stop while the broker is up.


@contextmanager
def second_broker(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A Mosquitto of the test's own on ``port``, stopped by its pid."""
    process = subprocess.Popen(
        [MOSQUITTO, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                socket.create_connection((BROKER_HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"mosquitto did not listen on {port}") from None
                time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


# ---- readings ----------------------------------------------------------------------------------


async def test_a_grid_reading_published_for_a_site_is_stored_by_load_control(
    rig: Rig, started: MqttInput
) -> None:
    measured_at = datetime.now(UTC).replace(microsecond=0)
    stamp = f"{measured_at:%Y-%m-%dT%H:%M:%SZ}"
    payload = f'{{"l1_a": 10.2, "l2_a": 8.0, "l3_a": -9.1, "measured_at": "{stamp}"}}'
    await publish(f"{rig.prefix}/sites/{SITE}/grid", payload.encode())
    reading = await stored_reading(rig, "grid")
    assert (reading.l1_a, reading.l2_a, reading.l3_a) == (10.2, 8.0, -9.1)
    assert (reading.source, reading.measured_at) == ("mqtt", measured_at)
    assert started.received == 1


async def test_a_single_phase_site_may_send_l1_only(rig: Rig, started: MqttInput) -> None:
    await publish(f"{rig.prefix}/sites/{SITE}/grid", b'{"l1_a": 4.5}')
    reading = await stored_reading(rig, "grid")
    assert (reading.l1_a, reading.l2_a, reading.l3_a) == (4.5, 0.0, 0.0)


async def test_a_solar_reading_may_be_a_bare_number_of_watts_measured_on_arrival(
    rig: Rig, started: MqttInput
) -> None:
    before = datetime.now(UTC)
    await publish(f"{rig.prefix}/sites/{SITE}/solar", b"3200")
    reading = await stored_reading(rig, "solar")
    assert reading.power_w == 3200.0
    assert before <= reading.measured_at <= datetime.now(UTC)


async def test_a_solar_reading_may_be_a_json_object(rig: Rig, started: MqttInput) -> None:
    await publish(f"{rig.prefix}/sites/{SITE}/solar", b'{"power_w": 1500.5}')
    assert (await stored_reading(rig, "solar")).power_w == 1500.5


BAD_MESSAGES = [
    pytest.param("grid", b"{not json", "JSON is malformed", id="bad-json"),
    pytest.param("grid", b'{"l1_a": "ten"}', "Expected `float`, got `str`", id="wrong-type"),
    pytest.param("grid", b'{"l1_a": NaN}', "NaN or Infinity is not a reading", id="nan"),
    pytest.param("grid", b'{"l1_a": 1e999}', "Number out of range", id="infinite"),
    pytest.param("grid", b'{"l1_a": 3, "L2_a": 4}', "unknown field `L2_a`", id="misspelt-phase"),
    pytest.param("grid", b'{"l2_a": 3}', "missing required field `l1_a`", id="no-l1"),
    pytest.param("solar", b"-20", "solar production is 0 W or more", id="negative-solar"),
    pytest.param(
        "grid",
        b'{"l1_a": 3, "measured_at": "2026-11-26T10:00:00"}',
        "has no UTC offset",
        id="naive-time",
    ),
]


@pytest.mark.parametrize(("kind", "payload", "complaint"), BAD_MESSAGES)
async def test_a_bad_message_is_one_warning_naming_the_topic_and_stores_nothing(
    rig: Rig,
    started: MqttInput,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    payload: bytes,
    complaint: str,
) -> None:
    topic = f"{rig.prefix}/sites/{SITE}/{kind}"
    await publish(topic, payload)
    await eventually(lambda: started.rejected == 1, "the message is rejected")
    assert len(warnings_of(caplog, f"mqtt message on {topic} ignored: ")) == 1
    assert len(warnings_of(caplog, complaint)) == 1
    assert (await rig.store.sites.layout(rig.site.id)).readings == []


async def test_a_reading_for_an_unknown_site_is_a_warning(
    rig: Rig, started: MqttInput, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"{rig.prefix}/sites/cabin/grid"
    await publish(topic, b'{"l1_a": 3}')
    await eventually(lambda: started.rejected == 1, "the message is rejected")
    assert warnings_of(caplog, topic) == [
        f"mqtt message on {topic} ignored: there is no site named 'cabin'"
    ]


async def test_a_reading_more_than_a_minute_in_the_future_is_a_warning(
    rig: Rig, started: MqttInput, caplog: pytest.LogCaptureFixture
) -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    await publish(
        f"{rig.prefix}/sites/{SITE}/grid",
        f'{{"l1_a": 3, "measured_at": "{ahead.isoformat()}"}}'.encode(),
    )
    await eventually(lambda: started.rejected == 1, "the message is rejected")
    assert len(warnings_of(caplog, "s in the future (at most 60 s allowed")) == 1


async def test_the_input_keeps_receiving_after_a_bad_message(rig: Rig, started: MqttInput) -> None:
    await publish(f"{rig.prefix}/sites/{SITE}/grid", b"garbage")
    await publish(f"{rig.prefix}/sites/{SITE}/grid", b'{"l1_a": 7}')
    assert (await stored_reading(rig, "grid")).l1_a == 7.0
    assert (started.rejected, started.received) == (1, 1)


async def test_a_retained_reading_without_its_time_is_not_used(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"{rig.prefix}/sites/{SITE}/grid"
    await publish(topic, b'{"l1_a": 3}', retain=True)
    mqtt_input = MqttInput(
        rig.services, mqtt_url=f"mqtt://{BROKER_HOST}:{BROKER_PORT}", topic_prefix=rig.prefix
    )
    mqtt_input.start()
    try:
        await eventually(lambda: mqtt_input.rejected == 1, "the retained message is rejected")
        assert len(warnings_of(caplog, "a retained reading needs measured_at")) == 1
    finally:
        await mqtt_input.stop()
        await publish(topic, b"", retain=True)  # an empty retained message clears it


# ---- the broker --------------------------------------------------------------------------------


async def test_subscribing_logs_the_topics_and_the_broker(
    rig: Rig, started: MqttInput, caplog: pytest.LogCaptureFixture
) -> None:
    logged = [record.getMessage() for record in caplog.get_records("setup")]
    assert (
        f"mqtt subscribed to {rig.prefix}/sites/+/grid and {rig.prefix}/sites/+/solar "
        f"on {BROKER_HOST}:{BROKER_PORT}"
    ) in logged


async def test_a_broker_down_at_start_is_logged_once_and_the_input_connects_when_it_comes_up(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    mqtt_input = fast_retrying_input(rig, port)
    mqtt_input.start()
    try:
        await asyncio.sleep(1.0)  # several attempts at 0.05 .. 0.2 s
        assert len(warnings_of(caplog, "broker unreachable")) == 1
        assert not mqtt_input.connected.is_set()
        with second_broker(port):
            await asyncio.wait_for(mqtt_input.connected.wait(), WAIT_S)
            await publish(f"{rig.prefix}/sites/{SITE}/grid", b'{"l1_a": 12}', port=port)
            assert (await stored_reading(rig, "grid")).l1_a == 12.0
            await mqtt_input.stop()  # before the broker goes: see stop_before_the_broker_goes
    finally:
        await mqtt_input.stop()


async def test_the_input_reconnects_after_the_broker_drops_and_logs_the_outage_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    mqtt_input = fast_retrying_input(rig, port)
    try:
        with second_broker(port):
            mqtt_input.start()
            await asyncio.wait_for(mqtt_input.connected.wait(), WAIT_S)
        await eventually(lambda: not mqtt_input.connected.is_set(), "the drop is noticed")
        await asyncio.sleep(1.0)  # several failed attempts
        assert len(warnings_of(caplog, "connection lost")) == 1
        assert warnings_of(caplog, "broker unreachable") == []
        with second_broker(port):
            await asyncio.wait_for(mqtt_input.connected.wait(), WAIT_S)
            assert any("(back after" in message for message in caplog.messages)
            await publish(f"{rig.prefix}/sites/{SITE}/solar", b"800", port=port)
            assert (await stored_reading(rig, "solar")).power_w == 800.0
            await mqtt_input.stop()  # before the broker goes: see stop_before_the_broker_goes
    finally:
        await mqtt_input.stop()


def test_the_server_starts_with_the_broker_down_and_subscribes_once_it_is_up(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    port, prefix = free_port(), f"test-{uuid.uuid4().hex}"
    args = ["--mqtt-url", f"mqtt://{BROKER_HOST}:{port}", "--mqtt-topic-prefix", prefix]
    with running_server(database_url, args) as server:
        server.wait_for_log(f"mqtt broker unreachable on {BROKER_HOST}:{port}")
        with second_broker(port):
            server.wait_for_log(
                f"mqtt subscribed to {prefix}/sites/\\+/grid and {prefix}/sites/\\+/solar "
                f"on {BROKER_HOST}:{port}",
                timeout_s=45,
            )
            assert server.terminate() == 0  # see stop_before_the_broker_goes
        assert server.error_lines() == []


# ---- settings and parsers ----------------------------------------------------------------------


def test_the_broker_url_gives_host_port_and_credentials() -> None:
    assert parse_mqtt_url("mqtt://meter:s%40cret@broker.lan:1884") == MqttBroker(
        host="broker.lan", port=1884, username="meter", password="s@cret"
    )


def test_the_broker_port_defaults_to_1883() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1").port == 1883


@pytest.mark.parametrize(
    "url", ["http://broker:1883", "mqtt://", "mqtt://broker:99999", "mqtt://broker/x"]
)
def test_a_broker_url_that_is_not_mqtt_host_port_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match=r"^mqtt_url=.*expected mqtt://\[USER:PASSWORD@\]HOST"):
        parse_mqtt_url(url)


def test_a_refused_broker_url_does_not_repeat_the_password() -> None:
    with pytest.raises(ValueError, match="meter:\\*\\*\\*@") as refused:
        parse_mqtt_url("mqtts://meter:hunter2@broker")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("prefix", ["", "home/+", "home/#", "home/"])
def test_a_topic_prefix_with_wildcards_or_a_trailing_slash_is_refused(
    rig: Rig, prefix: str
) -> None:
    with pytest.raises(ValueError, match=r"^mqtt_topic_prefix="):
        MqttInput(rig.services, mqtt_url="mqtt://127.0.0.1", topic_prefix=prefix)


_JSON_KEYS = st.sampled_from(["l1_a", "l2_a", "l3_a", "power_w", "measured_at"]) | st.text()
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_KEYS, inner, max_size=5),
    max_leaves=10,
)
PAYLOADS = st.binary(max_size=200) | _JSON.map(lambda value: json.dumps(value).encode())


@given(PAYLOADS)
def test_a_grid_payload_of_any_bytes_is_a_reading_or_a_bad_reading(payload: bytes) -> None:
    try:
        reading = parse_grid_payload(payload, now=NOW)
    except BadReading:
        return
    assert all(math.isfinite(amps) for amps in reading.amps)


@given(PAYLOADS)
def test_a_solar_payload_of_any_bytes_is_a_reading_or_a_bad_reading(payload: bytes) -> None:
    try:
        reading = parse_solar_payload(payload, now=NOW)
    except BadReading:
        return
    assert math.isfinite(reading.power_w)
    assert reading.power_w >= 0
