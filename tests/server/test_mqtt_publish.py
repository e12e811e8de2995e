"""MQTT publishing and Home Assistant discovery (issue 10), against the real Mosquitto.

A real ``chargedeck serve`` and a charger on the PyPI ``ocpp`` library; what reaches the broker
is read with Mosquitto's own ``mosquitto_sub`` (a third-party subscriber), stopped by its pid.
Each server gets topic and discovery prefixes of its own so parallel runs do not collide; the
chargers of a module's tests have ids of their own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus

from chargedeck.clock import SystemClock
from chargedeck.config import Settings
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.events import AlertCleared, AlertRaised, ChargerConnected
from chargedeck.csms.stations import Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.security import SecurityProfile
from chargedeck.server.mqtt_publish import (
    MqttPublisher,
    Topics,
    discovery_configs,
    discovery_node_id,
    topic_segment,
)
from chargedeck.store import open_store
from chargedeck.store.records import ChargePointRecord
from tests.support.mqtt import BROKER_HOST, BROKER_PORT, publish
from tests.support.ocpp_lib_charger import LibraryCharger, library_charger
from tests.support.server import ServerProcess, running_server

WAIT_S = 10.0
QUIET_S = 1.0
"""How long "nothing arrives" is watched for."""
T0 = "2026-11-26T10:00:00Z"


# ---- a subscriber ------------------------------------------------------------------------------


@dataclass
class Watcher:
    """``mosquitto_sub`` on some topic filters; keeps every (topic, payload, retained) line."""

    process: subprocess.Popen[bytes]
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latest(self, topic: str) -> bytes | None:
        with self.lock:
            for name, payload, _ in reversed(self.messages):
                if name == topic:
                    return payload
        return None

    async def wait(
        self,
        topic: str,
        accept: Callable[[bytes], bool] = lambda _: True,
        timeout_s: float = WAIT_S,
    ) -> bytes:
        """The newest payload on ``topic`` once one is accepted (polled without blocking the
        loop: the test's charger must go on answering meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            payload = self.latest(topic)
            if payload is not None and accept(payload):
                return payload
            await asyncio.sleep(0.02)
        raise AssertionError(f"nothing accepted on {topic}; last: {self.latest(topic)!r}")

    async def wait_json(self, topic: str, accept: Callable[[Any], bool] = lambda _: True) -> Any:
        return json.loads(await self.wait(topic, lambda p: bool(p) and accept(json.loads(p))))

    def topics(self, start: str) -> set[str]:
        with self.lock:
            return {name for name, _, _ in self.messages if name.startswith(start)}


def _read(watcher: Watcher) -> None:
    assert watcher.process.stdout is not None
    for raw in watcher.process.stdout:
        retained, _, rest = raw.rstrip(b"\n").partition(b"\t")
        topic, _, payload = rest.partition(b"\t")
        with watcher.lock:
            watcher.messages.append((topic.decode(), payload, retained == b"1"))


@contextmanager
def watching(*filters: str) -> Iterator[Watcher]:
    # stdbuf: mosquitto_sub's stdout is a pipe here, which stdio would buffer by 4 KiB.
    argv = ["stdbuf", "-oL", "mosquitto_sub", "-h", BROKER_HOST, "-p", str(BROKER_PORT)]
    argv += ["-F", "%r\t%t\t%p"]
    for topic_filter in filters:
        argv += ["-t", topic_filter]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    watcher = Watcher(process)
    threading.Thread(target=_read, args=(watcher,), daemon=True).start()
    try:
        time.sleep(0.2)  # subscribed (no SUBACK is visible from outside)
        yield watcher
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---- servers -----------------------------------------------------------------------------------


@dataclass
class Rig:
    server: ServerProcess
    topics: Topics
    discovery: str
    watcher: Watcher

    def charger_topic(self, charge_point_id: str, rest: str) -> str:
        return f"{self.topics.charger(charge_point_id)}/{rest}"


@contextmanager
def rig_of(folder: Path, *, commands: bool, prefix: str | None = None) -> Iterator[Rig]:
    prefix = prefix or f"test-{uuid.uuid4().hex}"
    discovery = f"ha-{uuid.uuid4().hex}"
    args = [
        "--unknown-charge-points",
        "accept",
        "--mqtt-url",
        f"mqtt://{BROKER_HOST}:{BROKER_PORT}",
        "--mqtt-topic-prefix",
        prefix,
        "--mqtt-discovery-prefix",
        discovery,
        "--mqtt-commands",
        "true" if commands else "false",
    ]
    with (
        watching(f"{prefix}/#", f"{discovery}/#") as watcher,
        running_server(f"sqlite:///{folder / 'db.sqlite'}", args, folder) as server,
    ):
        server.wait_for_log(f"mqtt publishing charger state on {prefix}/charge-points/#")
        yield Rig(server, Topics(prefix=prefix, status=f"{prefix}/status"), discovery, watcher)
        assert server.error_lines() == [], server.log_text()


@pytest.fixture(scope="module")
def commands_on(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with rig_of(tmp_path_factory.mktemp("on"), commands=True) as rig:
        yield rig


@pytest.fixture(scope="module")
def commands_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with rig_of(tmp_path_factory.mktemp("off"), commands=False) as rig:
        yield rig


async def boot(charger: LibraryCharger) -> None:
    await charger.call(
        call.BootNotification(
            charge_point_vendor="Wall Box Chargers",
            charge_point_model="PLP1-0-2-4",
            charge_point_serial_number="88034",
            firmware_version="6.4.14",
        )
    )


async def status(charger: LibraryCharger, connector_id: int, value: ChargePointStatus) -> None:
    await charger.call(
        call.StatusNotification(
            connector_id=connector_id,
            error_code=ChargePointErrorCode.no_error,
            status=value,
            timestamp=T0,
        )
    )


async def config(rig: Rig, component: str, charge_point_id: str, object_id: str) -> Any:
    node = discovery_node_id(charge_point_id)
    return await rig.watcher.wait_json(f"{rig.discovery}/{component}/{node}/{object_id}/config")


# ---- state topics ------------------------------------------------------------------------------


async def test_the_process_says_online_on_its_status_topic(commands_off: Rig) -> None:
    assert await commands_off.watcher.wait(commands_off.topics.status) == b"online"


async def test_status_power_and_energy_follow_the_chargers_notifications(
    commands_off: Rig,
) -> None:
    rig = commands_off
    async with library_charger(rig.server.ocpp_url, "MQ-STATE") as charger:
        await boot(charger)
        await status(charger, 1, ChargePointStatus.charging)
        assert await rig.watcher.wait(rig.charger_topic("MQ-STATE", "availability")) == b"online"
        assert await rig.watcher.wait(rig.charger_topic("MQ-STATE", "connectors/1/status")) == (
            b"Charging"
        )
        await charger.call(
            call.MeterValues(
                connector_id=1,
                meter_value=[
                    {
                        "timestamp": T0,
                        "sampledValue": [
                            {"value": "1500", "measurand": "Energy.Active.Import.Register"},
                            {"value": "11004.3", "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "15.4", "measurand": "Current.Import", "phase": "L1"},
                        ],
                    }
                ],
            )
        )
        power = await rig.watcher.wait(rig.charger_topic("MQ-STATE", "connectors/1/power_w"))
        energy = await rig.watcher.wait(rig.charger_topic("MQ-STATE", "connectors/1/energy_kwh"))
        currents = await rig.watcher.wait_json(
            rig.charger_topic("MQ-STATE", "connectors/1/current_a")
        )
        await status(charger, 1, ChargePointStatus.finishing)
        assert await rig.watcher.wait(
            rig.charger_topic("MQ-STATE", "connectors/1/status"), lambda p: p == b"Finishing"
        )
    assert (float(power), float(energy)) == (11004.3, 1.5)
    assert currents == {"l1": 15.4, "l2": None, "l3": None}
    assert await rig.watcher.wait(
        rig.charger_topic("MQ-STATE", "availability"), lambda p: p == b"offline"
    )


async def test_a_transaction_topic_holds_the_running_session_and_is_emptied_at_its_stop(
    commands_off: Rig,
) -> None:
    rig = commands_off
    topic = rig.charger_topic("MQ-TX", "connectors/1/transaction")
    async with library_charger(rig.server.ocpp_url, "MQ-TX") as charger:
        await boot(charger)
        started = await charger.call(
            call.StartTransaction(connector_id=1, id_tag="TAG7", meter_start=1000, timestamp=T0)
        )
        session = await rig.watcher.wait_json(topic)
        await charger.call(
            call.StopTransaction(
                meter_stop=3000, timestamp=T0, transaction_id=started.transaction_id
            )
        )
        assert await rig.watcher.wait(topic, lambda p: p == b"") == b""
    assert session["transaction_id"] == started.transaction_id
    assert (session["id_tag"], session["meter_start_wh"]) == ("TAG7", 1000)


async def test_a_charge_point_id_with_mqtt_wildcards_is_percent_encoded_in_topics(
    commands_off: Rig,
) -> None:
    rig = commands_off
    async with library_charger(rig.server.ocpp_url, "MQ+1") as charger:
        await boot(charger)
        assert await rig.watcher.wait(f"{rig.topics.prefix}/charge-points/MQ%2B1/availability") == (
            b"online"
        )


# ---- in process: the publisher on the event bus ------------------------------------------------


async def test_alerts_of_a_connected_charger_are_a_retained_list_and_unknown_ids_get_no_topics(
    tmp_path: Path,
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    services = CsmsServices(
        store=store, settings=Settings(), clock=SystemClock(), stations=Stations()
    )
    prefix = f"test-{uuid.uuid4().hex}"
    publisher = MqttPublisher(
        services,
        mqtt_url=f"mqtt://{BROKER_HOST}:{BROKER_PORT}",
        topic_prefix=prefix,
        discovery_prefix="",
    )
    topics = publisher.topics
    with watching(f"{prefix}/#") as watcher:
        publisher.start()
        try:
            await asyncio.wait_for(publisher.connected.wait(), WAIT_S)
            bus = services.events
            bus.publish(
                ChargerConnected(charge_point_id="MQ-AL", remote_address="x", security_profile=0)
            )
            bus.publish(
                AlertRaised(
                    charge_point_id="MQ-AL", kind="fault", message="GroundFailure", connector_id=1
                )
            )
            bus.publish(
                AlertRaised(charge_point_id="MQ-NOBODY", kind="connection-rejected", message="no")
            )
            raised = await watcher.wait_json(topics.alerts("MQ-AL"))
            bus.publish(
                AlertCleared(charge_point_id="MQ-AL", kind="fault", message="ok", connector_id=1)
            )
            cleared = await watcher.wait_json(topics.alerts("MQ-AL"), lambda body: body == [])
        finally:
            await publisher.stop()
            await store.close()
        assert await watcher.wait(topics.status, lambda p: p == b"offline")
    assert raised == [{"kind": "fault", "message": "GroundFailure", "connector_id": 1}]
    assert cleared == []
    assert watcher.topics(topics.charger("MQ-NOBODY")) == set()


@pytest.mark.parametrize(
    ("key", "prefixes"),
    [
        ("mqtt_topic_prefix", ("", "homeassistant")),
        ("mqtt_topic_prefix", ("home/+", "homeassistant")),
        ("mqtt_discovery_prefix", ("chargedeck", "homeassistant/")),
        ("mqtt_discovery_prefix", ("chargedeck", "#")),
    ],
)
async def test_a_prefix_with_wildcards_or_slashes_at_its_ends_is_refused_naming_the_setting(
    tmp_path: Path, key: str, prefixes: tuple[str, str]
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    services = CsmsServices(
        store=store, settings=Settings(), clock=SystemClock(), stations=Stations()
    )
    try:
        with pytest.raises(ValueError, match=f"^{key}="):
            MqttPublisher(
                services,
                mqtt_url=f"mqtt://{BROKER_HOST}:{BROKER_PORT}",
                topic_prefix=prefixes[0],
                discovery_prefix=prefixes[1],
            )
    finally:
        await store.close()


# ---- Home Assistant discovery ------------------------------------------------------------------


async def test_an_adopted_charger_is_announced_to_home_assistant_with_units_and_ids(
    commands_on: Rig,
) -> None:
    rig = commands_on
    async with library_charger(rig.server.ocpp_url, "MQ-HA") as charger:
        await boot(charger)
        await status(charger, 1, ChargePointStatus.available)
        power = await config(rig, "sensor", "MQ-HA", "c1_power")
        energy = await config(rig, "sensor", "MQ-HA", "c1_energy")
        state = await config(rig, "sensor", "MQ-HA", "c1_status")
        connected = await config(rig, "binary_sensor", "MQ-HA", "connected")
        limit = await config(rig, "number", "MQ-HA", "limit")
        start = await config(rig, "button", "MQ-HA", "c1_start")
    assert power["unique_id"] == "chargedeck_MQ-HA_c1_power"
    assert power["default_entity_id"] == "sensor.chargedeck_MQ-HA_c1_power"
    assert power["device"] == {
        "identifiers": ["chargedeck_MQ-HA"],
        "name": "MQ-HA",
        "manufacturer": "Wall Box Chargers",
        "model": "PLP1-0-2-4",
        "sw_version": "6.4.14",
        "serial_number": "88034",
    }
    assert (power["device_class"], power["unit_of_measurement"], power["state_class"]) == (
        "power",
        "W",
        "measurement",
    )
    assert power["state_topic"] == rig.charger_topic("MQ-HA", "connectors/1/power_w")
    assert power["availability"] == [
        {"topic": rig.topics.status},
        {"topic": rig.charger_topic("MQ-HA", "availability")},
    ]
    assert power["availability_mode"] == "all"
    assert (energy["device_class"], energy["unit_of_measurement"], energy["state_class"]) == (
        "energy",
        "kWh",
        "total_increasing",
    )
    assert state["device_class"] == "enum"
    assert "Charging" in state["options"]
    assert connected["device_class"] == "connectivity"
    assert connected["availability"] == [{"topic": rig.topics.status}]
    # The Wallbox row of the charger-model table: 6 A floor, 48 A ceiling, whole amps.
    assert (limit["min"], limit["max"], limit["step"]) == (6, 48, 1)
    assert limit["command_topic"] == rig.charger_topic("MQ-HA", "command/limit")
    assert start["command_topic"] == rig.charger_topic("MQ-HA", "command/start")
    assert json.loads(start["payload_press"]) == {"connector_id": 1}


async def test_without_commands_no_command_entities_are_announced(commands_off: Rig) -> None:
    rig = commands_off
    async with library_charger(rig.server.ocpp_url, "MQ-HA-RO") as charger:
        await boot(charger)
        await status(charger, 1, ChargePointStatus.available)
        await config(rig, "sensor", "MQ-HA-RO", "c1_power")
    node = discovery_node_id("MQ-HA-RO")
    announced = rig.watcher.topics(f"{rig.discovery}/")
    assert not {t for t in announced if node in t and ("/button/" in t or "/number/" in t)}


def test_discovery_ids_keep_only_what_home_assistant_allows_and_stay_unique() -> None:
    assert discovery_node_id("Garage-1_a") == "chargedeck_Garage-1_a"
    assert discovery_node_id("CP 1").startswith("chargedeck_CP_1_")
    assert discovery_node_id("CP 1") != discovery_node_id("CP:1")


def test_topic_segments_encode_wildcards_slash_and_percent() -> None:
    assert topic_segment("CP+1#2/3%") == "CP%2B1%232%2F3%25"
    assert topic_segment("Wallbox:88034@home") == "Wallbox:88034@home"


def test_a_command_topic_gives_back_the_charge_point_id_and_action() -> None:
    topics = Topics(prefix="home/cd", status="home/cd/status")
    assert topics.parse_command(topics.command("CP+1", "start")) == ("CP+1", "start")
    assert topics.parse_command(topics.result("CP+1", "start")) is None
    assert topics.parse_command("home/cd/charge-points/CP/availability") is None


def test_a_generic_charger_gets_a_limit_in_tenths_up_to_the_iec_maximum() -> None:
    record = ChargePointRecord(
        id=ChargePointId("GEN"),
        registration=Registration.REGISTERED,
        vendor="Acme",
        model="X1",
        charge_point_serial_number=None,
        charge_box_serial_number=None,
        firmware_version=None,
        iccid=None,
        imsi=None,
        meter_type=None,
        meter_serial_number=None,
        first_seen_at=None,
        last_boot_at=None,
        last_heartbeat_at=None,
        adopted_at=None,
        created_at=datetime(2026, 11, 26, tzinfo=UTC),
        security_profile=SecurityProfile.NONE,
        pending_security_profile=None,
        authorization_key_set_at=None,
    )
    topics = Topics(prefix="cd", status="cd/status")
    configs = dict(discovery_configs(topics, "homeassistant", record, [0, 1, 2], commands=True))
    limit = json.loads(configs["homeassistant/number/chargedeck_GEN/limit/config"])
    assert (limit["min"], limit["max"], limit["step"]) == (6, 80, 0.1)
    assert "homeassistant/sensor/chargedeck_GEN/c2_power/config" in configs
    assert not [topic for topic in configs if "/c0_" in topic]  # connector 0 is the charger


# ---- commands ----------------------------------------------------------------------------------


async def test_a_remote_start_published_on_the_command_topic_reaches_the_charger(
    commands_on: Rig,
) -> None:
    rig = commands_on
    async with library_charger(rig.server.ocpp_url, "MQ-CMD") as charger:
        await boot(charger)
        body = json.dumps({"idTag": "HOME1", "connectorId": 1}).encode()
        await publish(rig.charger_topic("MQ-CMD", "command/RemoteStartTransaction"), body)
        result = await rig.watcher.wait_json(
            rig.charger_topic("MQ-CMD", "command/RemoteStartTransaction/result")
        )
    assert result["status"] == "Accepted"
    assert ("RemoteStartTransaction", {"id_tag": "HOME1", "connector_id": 1}) in charger.received


async def test_the_start_button_starts_with_the_chargers_remote_start_id_tag(
    commands_on: Rig,
) -> None:
    rig = commands_on
    async with library_charger(rig.server.ocpp_url, "MQ-BTN") as charger:
        await boot(charger)
        await publish(rig.charger_topic("MQ-BTN", "command/start"), b'{"connector_id": 1}')
        result = await rig.watcher.wait_json(rig.charger_topic("MQ-BTN", "command/start/result"))
    assert result == {
        "action": "RemoteStartTransaction",
        "status": "Accepted",
        "response": {"status": "Accepted"},
    }
    assert ("RemoteStartTransaction", {"id_tag": "FreeVend", "connector_id": 1}) in (
        charger.received
    )


async def test_the_limit_number_sets_the_operator_limit(commands_on: Rig) -> None:
    rig = commands_on
    async with library_charger(rig.server.ocpp_url, "MQ-LIM") as charger:
        await boot(charger)
        await publish(rig.charger_topic("MQ-LIM", "command/limit"), b"16")
        result = await rig.watcher.wait_json(rig.charger_topic("MQ-LIM", "command/limit/result"))
        state = await rig.watcher.wait(
            rig.charger_topic("MQ-LIM", "operator_limit_a"), lambda p: p == b"16.0"
        )
    assert result["status"] == "Accepted"
    assert state == b"16.0"
    with rig.server.api_client() as client:
        removed = client.delete("/charge-points/MQ-LIM/limit")  # answers the limit it removes
    assert (removed.json()["value"], removed.json()["unit"]) == (16.0, "A")


async def test_a_malformed_command_gets_an_error_result_and_the_server_stays_up(
    commands_on: Rig,
) -> None:
    rig = commands_on
    async with library_charger(rig.server.ocpp_url, "MQ-BAD") as charger:
        await boot(charger)
        topic = rig.charger_topic("MQ-BAD", "command/RemoteStartTransaction")
        await publish(topic, b'{"idTag": 5')
        result = await rig.watcher.wait_json(f"{topic}/result")
        await publish(rig.charger_topic("MQ-BAD", "command/limit"), b"lots")
        limit = await rig.watcher.wait_json(rig.charger_topic("MQ-BAD", "command/limit/result"))
        await charger.call(call.Heartbeat())  # still served
    assert "RemoteStartTransaction payload is invalid" in result["error"]
    assert "expected a number of A" in limit["error"]
    assert not [r for r in charger.received if r[0] == "RemoteStartTransaction"]
    rig.server.wait_for_log(f"WARNING.*mqtt command on {topic} refused: ")


async def test_a_command_for_a_charger_that_is_not_connected_says_so(commands_on: Rig) -> None:
    rig = commands_on
    await publish(rig.charger_topic("MQ-NONE", "command/Reset"), b'{"type": "Soft"}')
    result = await rig.watcher.wait_json(rig.charger_topic("MQ-NONE", "command/Reset/result"))
    assert result["error"] == "charge point 'MQ-NONE' is not known to this CSMS"


async def test_with_commands_off_a_command_is_ignored_with_a_warning(commands_off: Rig) -> None:
    rig = commands_off
    async with library_charger(rig.server.ocpp_url, "MQ-OFF") as charger:
        await boot(charger)
        topic = rig.charger_topic("MQ-OFF", "command/RemoteStartTransaction")
        await publish(topic, b'{"idTag": "X"}')
        rig.server.wait_for_log(f"WARNING.*mqtt command on {topic} ignored: commands over MQTT")
        await asyncio.sleep(QUIET_S)
    assert rig.watcher.latest(f"{topic}/result") is None
    assert charger.received == []


# ---- restarts ----------------------------------------------------------------------------------


async def test_after_a_crash_the_will_says_offline_and_a_restart_republishes_the_truth(
    tmp_path: Path,
) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    with rig_of(tmp_path, commands=False, prefix=prefix) as first:
        status_topic = first.charger_topic("MQ-BACK", "connectors/1/status")
        availability = first.charger_topic("MQ-BACK", "availability")
        async with library_charger(first.server.ocpp_url, "MQ-BACK") as charger:
            await boot(charger)
            await status(charger, 1, ChargePointStatus.charging)
            await first.watcher.wait(status_topic)
            first.server.kill()
            # The broker speaks for the dead process: its will.
            assert await first.watcher.wait(first.topics.status, lambda p: p == b"offline")
    assert first.watcher.latest(availability) == b"online"  # stale: nobody said otherwise
    await publish(status_topic, b"", retain=True)  # gone from the broker: only the store has it
    with watching(f"{prefix}/#") as late:
        with rig_of(tmp_path, commands=False, prefix=prefix) as again:
            assert await late.wait(again.topics.status, lambda p: p == b"online")
            assert await late.wait(availability, lambda p: p == b"offline")
            assert await late.wait(status_topic, lambda p: p != b"") == b"Charging"
        # A clean disconnection discards the will: the goodbye is ChargeDeck's own.
        assert await late.wait(again.topics.status, lambda p: p == b"offline")
