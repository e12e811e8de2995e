"""MQTT publishing: charger state, Home Assistant discovery and commands (issue 10).

Listens to the event bus with ``local_only`` (in a cluster each node publishes the chargers it
holds, once) and keeps retained state topics under ``PREFIX/charge-points/<id>/``
(``availability``, ``alerts``, ``operator_limit_a``, ``connectors/<n>/status``, ``power_w``,
``energy_kwh``, ``current_a``, ``limit_a``, ``transaction``). Every state it has published is
kept in memory and published again after a broker reconnect, together with a fresh snapshot
from the store, so a subscriber (Home Assistant) sees the truth after either side restarts.

Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/, "MQTT
Discovery"): retained configs under ``DISCOVERY/<component>/<node_id>/<object_id>/config`` make
each adopted charger a device with sensors, buttons and a limit number. Entities depend on two
availability topics (``availability_mode: all``): the charger's own, and ``PREFIX/status``,
which is this process's MQTT will (the broker publishes ``offline`` there when ChargeDeck dies
without a goodbye; a will can only speak for a whole connection, not per charger).

Commands (``mqtt_commands``, off by default: anyone who may publish to the broker could start
and stop charging, and the broker's ACL is the operator's job) arrive on
``PREFIX/charge-points/<id>/command/<action>`` and answer on ``.../command/<action>/result``.

Why a connection of its own and not the readings input's (server/mqtt.py): the will must
belong to the connection that publishes ``online``, and publishing is on by default while the
input and its log lines are a separate, tested feature; the second TCP connection costs the
broker nothing measurable.

Topic segments: a charge point id may hold ``+``, ``#`` (MQTT wildcards) or ``%``; it is
percent-encoded (RFC 3986) keeping letters, digits, ``-._~`` and ``!$&'()*,;=:@``, so ``CP+1``
is ``CP%2B1`` and ``CP#1`` is ``CP%231``. Discovery ids allow only ``[a-zA-Z0-9_-]``: other
characters become ``_`` and a short hash of the id keeps them unique.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote, unquote

import aiomqtt
import msgspec

from chargedeck import __version__
from chargedeck.csms.commands import COMMANDS, CommandError, masked_answer, send_command
from chargedeck.csms.events import (
    AlertCleared,
    AlertRaised,
    AnyEvent,
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    LimitChanged,
    MeterValuesReceived,
    StatusChanged,
    Subscription,
    TransactionStarted,
    TransactionStopped,
)
from chargedeck.csms.free_vend import remote_start_id_tag
from chargedeck.csms.stations import ChargePointDisconnected
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.charger_models import model_for
from chargedeck.domain.ids import ChargePointId, ConnectorId
from chargedeck.domain.sites import check_operator_limit
from chargedeck.ocpp.codec import decode_request, encode_message
from chargedeck.ocpp.errors import CallErrorReceived, CallErrorSent, CallTimeout, InvalidResponse
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.ocpp.v16.enums import ChargePointStatus
from chargedeck.server.mqtt import (
    RECONNECT_FIRST_S,
    RECONNECT_MAX_S,
    parse_mqtt_url,
    stay_connected,
)
from chargedeck.store.errors import NotFound, StoreError
from chargedeck.store.records import ChargePointRecord, TransactionRecord

if TYPE_CHECKING:
    from chargedeck.csms.context import CsmsServices

log = logging.getLogger(__name__)

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"
"""Home Assistant's default payload_available / payload_not_available."""
STATE_QOS: Final = 1
"""At least once: a lost retained state would leave Home Assistant wrong until the next change."""
STOP_DRAIN_S: Final = 2.0
"""At shutdown, time to publish the chargers' last states (offline) before the goodbye."""
HA_COMPONENTS: Final = ("binary_sensor", "button", "number", "sensor")
"""Home Assistant entity platforms ChargeDeck announces."""
HA_ALIASES: Final = ("start", "stop", "limit")
"""Command actions made for Home Assistant buttons and numbers, beside the OCPP actions."""
_SAFE_IN_TOPIC: Final = "!$&'()*,;=:@"
"""RFC 3986 sub-delims without ``+``, plus ``:`` and ``@``: kept as they are in a segment."""
_NOT_IN_NODE_ID = re.compile(r"[^A-Za-z0-9_-]")


class BadCommand(ValueError):
    """A command message that cannot be carried out as sent; the sentence says why."""


def topic_segment(charge_point_id: str) -> str:
    """The charge point id as one topic level: percent-encoded (see the module docstring)."""
    return quote(charge_point_id, safe=_SAFE_IN_TOPIC)


def discovery_node_id(charge_point_id: str) -> str:
    """Home Assistant's node and device identifier for a charger: ``chargedeck_<id>``, where
    characters outside ``[a-zA-Z0-9_-]`` become ``_`` with 8 hex digits of the id's SHA-256
    appended, so ``CP 1`` and ``CP_1`` stay two devices."""
    slug = _NOT_IN_NODE_ID.sub("_", charge_point_id)
    if slug != charge_point_id:
        slug += "_" + hashlib.sha256(charge_point_id.encode()).hexdigest()[:8]
    return f"chargedeck_{slug}"


@dataclass(frozen=True)
class Topics:
    """Where everything goes, from ``mqtt_topic_prefix`` (and the node name in a cluster)."""

    prefix: str
    status: str
    """This process's online/offline (its MQTT will)."""

    def charger(self, charge_point_id: str) -> str:
        return f"{self.prefix}/charge-points/{topic_segment(charge_point_id)}"

    def availability(self, charge_point_id: str) -> str:
        return f"{self.charger(charge_point_id)}/availability"

    def alerts(self, charge_point_id: str) -> str:
        return f"{self.charger(charge_point_id)}/alerts"

    def operator_limit(self, charge_point_id: str) -> str:
        return f"{self.charger(charge_point_id)}/operator_limit_a"

    def connector(self, charge_point_id: str, connector_id: int, name: str) -> str:
        return f"{self.charger(charge_point_id)}/connectors/{connector_id}/{name}"

    def command(self, charge_point_id: str, action: str) -> str:
        return f"{self.charger(charge_point_id)}/command/{action}"

    def result(self, charge_point_id: str, action: str) -> str:
        return f"{self.command(charge_point_id, action)}/result"

    @property
    def commands(self) -> str:
        """The subscription to every charger's command topics."""
        return f"{self.prefix}/charge-points/+/command/+"

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """(charge point id, action) of a command topic; None for any other topic."""
        head = f"{self.prefix}/charge-points/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 3 or parts[1] != "command":
            return None
        return unquote(parts[0]), parts[2]


# ---- payloads ----------------------------------------------------------------------------------


class TransactionState(msgspec.Struct, frozen=True, kw_only=True):
    """``connectors/<n>/transaction``: the running session (the topic is empty without one)."""

    transaction_id: int
    id_tag: str
    started_at: datetime
    meter_start_wh: int
    energy_kwh: float | None = None
    """Energy of this session so far, from the newest register reading."""


class PhaseCurrents(msgspec.Struct, frozen=True, kw_only=True):
    """``connectors/<n>/current_a``: Current.Import per phase in A (null: not measured)."""

    l1: float | None
    l2: float | None
    l3: float | None


class AlertState(msgspec.Struct, frozen=True, kw_only=True):
    """One open alert in the ``alerts`` list."""

    kind: str
    message: str
    connector_id: int | None = None


class CommandResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``command/<action>/result``: the charger's answer (``status`` lifted from it where it has
    one) or the sentence why nothing or not all was done."""

    action: str
    status: str | None = None
    response: dict[str, Any] | None = None
    error: str | None = None


class _StartBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    connector_id: int | None = None
    id_tag: str | None = None


class _StopBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    connector_id: int | None = None


class _LimitBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    value: float
    unit: str = "A"


_BodyT = TypeVar("_BodyT", _StartBody, _StopBody)
_ENCODER = msgspec.json.Encoder()
_JSON = msgspec.json.Decoder()


def _number(value: float, digits: int) -> bytes:
    return _ENCODER.encode(round(value, digits))


# ---- Home Assistant discovery ------------------------------------------------------------------


def discovery_configs(
    topics: Topics,
    discovery_prefix: str,
    record: ChargePointRecord,
    connector_ids: Iterable[int],
    *,
    commands: bool,
) -> list[tuple[str, bytes]]:
    """(topic, retained config) of every Home Assistant entity of one adopted charger.

    Keys as documented for MQTT discovery (device, unique_id, state_topic, availability,
    availability_mode, device_class, unit_of_measurement, state_class, command_topic); the
    command entities only when ``commands`` is on.
    """
    cp = str(record.id)
    node = discovery_node_id(cp)
    model = model_for(record.vendor or "", record.model or "")
    device: dict[str, Any] = {"identifiers": [node], "name": cp}
    for key, value in (
        ("manufacturer", record.vendor),
        ("model", record.model),
        ("sw_version", record.firmware_version),
        ("serial_number", record.charge_point_serial_number),
    ):
        if value:
            device[key] = value
    availability = [{"topic": topics.status}, {"topic": topics.availability(cp)}]
    configs: list[tuple[str, bytes]] = []

    def add(component: str, object_id: str, config: dict[str, Any], both: bool = True) -> None:
        body = {
            "unique_id": f"{node}_{object_id}",
            # Home Assistant 2025.10 replaced object_id by default_entity_id (DOMAIN.ID);
            # object_id stopped working in 2026.4 (home-assistant/core, MQTT entity ids).
            "default_entity_id": f"{component}.{node}_{object_id}",
            "device": device,
            "origin": {"name": "ChargeDeck", "sw_version": __version__},
            "availability": availability if both else availability[:1],
            "availability_mode": "all",
            **config,
        }
        topic = f"{discovery_prefix}/{component}/{node}/{object_id}/config"
        configs.append((topic, _ENCODER.encode(body)))

    # Connectivity follows the charger's availability topic, so only the process's status may
    # make it unavailable: an offline charger shows "disconnected", not "unavailable".
    add(
        "binary_sensor",
        "connected",
        {
            "name": "Connected",
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "state_topic": topics.availability(cp),
            "payload_on": ONLINE.decode(),
            "payload_off": OFFLINE.decode(),
        },
        both=False,
    )
    add(
        "sensor",
        "alerts",
        {
            "name": "Open alerts",
            "icon": "mdi:alert",
            "state_topic": topics.alerts(cp),
            "value_template": "{{ value_json | count }}",
            "json_attributes_topic": topics.alerts(cp),
            "json_attributes_template": "{{ {'alerts': value_json} | tojson }}",
        },
    )
    if commands:
        add(
            "number",
            "limit",
            {
                "name": "Current limit",
                "device_class": "current",
                "unit_of_measurement": "A",
                "mode": "box",
                "min": model.min_current_a,
                "max": model.max_current_a,
                "step": 1 if model.whole_amps else 0.1,
                "state_topic": topics.operator_limit(cp),
                "command_topic": topics.command(cp, "limit"),
            },
        )
        add(
            "button",
            "reset",
            {
                "name": "Restart",
                "device_class": "restart",
                "entity_category": "config",
                "command_topic": topics.command(cp, "Reset"),
                "payload_press": '{"type":"Soft"}',
            },
        )
    for n in sorted(set(connector_ids) - {0}):
        c = f"Connector {n}"
        add(
            "sensor",
            f"c{n}_status",
            {
                "name": f"{c} status",
                "device_class": "enum",
                "options": [status.value for status in ChargePointStatus],
                "state_topic": topics.connector(cp, n, "status"),
            },
        )
        add(
            "sensor",
            f"c{n}_power",
            {
                "name": f"{c} power",
                "device_class": "power",
                "unit_of_measurement": "W",
                "state_class": "measurement",
                "state_topic": topics.connector(cp, n, "power_w"),
            },
        )
        add(
            "sensor",
            f"c{n}_energy",
            {
                "name": f"{c} energy",
                "device_class": "energy",
                "unit_of_measurement": "kWh",
                "state_class": "total_increasing",
                "state_topic": topics.connector(cp, n, "energy_kwh"),
            },
        )
        add(
            "sensor",
            f"c{n}_limit",
            {
                "name": f"{c} limit in force",
                "device_class": "current",
                "unit_of_measurement": "A",
                "state_class": "measurement",
                "state_topic": topics.connector(cp, n, "limit_a"),
            },
        )
        for phase in ("l1", "l2", "l3"):
            add(
                "sensor",
                f"c{n}_current_{phase}",
                {
                    "name": f"{c} current {phase.upper()}",
                    "device_class": "current",
                    "unit_of_measurement": "A",
                    "state_class": "measurement",
                    "state_topic": topics.connector(cp, n, "current_a"),
                    "value_template": f"{{{{ value_json.{phase} }}}}",
                },
            )
        if commands:
            connector = _ENCODER.encode({"connector_id": n}).decode()
            for action, name, icon in (
                ("start", "start charging", "mdi:play"),
                ("stop", "stop charging", "mdi:stop"),
            ):
                add(
                    "button",
                    f"c{n}_{action}",
                    {
                        "name": f"{c} {name}",
                        "icon": icon,
                        "command_topic": topics.command(cp, action),
                        "payload_press": connector,
                    },
                )
            add(
                "button",
                f"c{n}_unlock",
                {
                    "name": f"{c} unlock",
                    "icon": "mdi:lock-open",
                    "command_topic": topics.command(cp, "UnlockConnector"),
                    "payload_press": _ENCODER.encode({"connectorId": n}).decode(),
                },
            )
    return configs


# ---- the publisher -----------------------------------------------------------------------------


@dataclass
class _Charger:
    """What the publisher remembers of one charger between events."""

    connectors: set[int] = field(default_factory=set)
    transactions: dict[int, TransactionState] = field(default_factory=dict)
    """Open transactions by connector id."""
    alerts: dict[tuple[str, int | None], AlertState] = field(default_factory=dict)
    announced: bool = False
    """Discovery configs published for it (it is adopted and discovery is on)."""


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("mqtt publishing stopped: state is no longer published", exc_info=exc)


def _report_command_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("mqtt command failed unexpectedly; no result was published", exc_info=exc)


class MqttPublisher:
    """Publishes charger state and discovery configs, and runs commands, for as long as it runs;
    reconnects to the broker with a growing back-off like the readings input."""

    def __init__(
        self,
        services: CsmsServices,
        *,
        mqtt_url: str,
        topic_prefix: str,
        discovery_prefix: str = "homeassistant",
        commands: bool = False,
        reconnect_first_s: float = RECONNECT_FIRST_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
    ) -> None:
        """Raises ``ValueError`` naming the setting for a bad URL or prefix."""
        self._services = services
        self.broker = parse_mqtt_url(mqtt_url)
        for key, value, may_be_empty in (
            ("mqtt_topic_prefix", topic_prefix, False),
            ("mqtt_discovery_prefix", discovery_prefix, True),
        ):
            if (not value and not may_be_empty) or any(c in value for c in "+#"):
                raise ValueError(f"{key}={value!r}: expected topic levels without wildcards (+, #)")
            if value.endswith("/") or value.startswith("/"):
                raise ValueError(f"{key}={value!r}: expected no leading or trailing /")
        # In a cluster each node has its own will: one node going away must not mark the
        # chargers of the others unavailable.
        clustered = bool(services.settings.cluster_url)
        status = (
            f"{topic_prefix}/nodes/{topic_segment(services.events.node)}/status"
            if clustered
            else f"{topic_prefix}/status"
        )
        self.topics = Topics(prefix=topic_prefix, status=status)
        self._clustered = clustered
        self._discovery_prefix = discovery_prefix
        self._commands = commands
        self._reconnect_first_s = reconnect_first_s
        self._reconnect_max_s = reconnect_max_s
        self._chargers: dict[str, _Charger] = {}
        self._retained: dict[str, bytes] = {}
        """Every retained state published (or to publish): replayed after a reconnect."""
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()
        """Held while publishing, so a replay never overtakes a newer state."""
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._run_task: asyncio.Task[None] | None = None
        self._events_task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        """Set while connected with the state published (tests wait on it)."""
        self.commands_run = 0
        self.commands_refused = 0

    def start(self) -> None:
        """Listen to events and begin connecting in the background; returns at once."""
        if self._run_task is not None:
            return
        loop = asyncio.get_running_loop()
        self._subscription = self._services.events.subscribe(local_only=True)
        self._events_task = loop.create_task(self._follow_events(), name="chargedeck-mqtt-events")
        self._events_task.add_done_callback(_report_end)
        self._run_task = loop.create_task(self._run(), name="chargedeck-mqtt-publish")
        self._run_task.add_done_callback(_report_end)

    async def stop(self) -> None:
        """Publish what is still queued (chargers going offline at shutdown), say ``offline`` on
        the status topic, and disconnect."""
        run_task, self._run_task = self._run_task, None
        if run_task is None:
            return
        if self._subscription is not None:
            self._subscription.close()  # the events task ends once the queue is drained
        if self._events_task is not None:
            await asyncio.wait({self._events_task}, timeout=STOP_DRAIN_S)
            self._events_task.cancel()
        client = self._client
        if client is not None:
            # Before the disconnection: a clean DISCONNECT discards the will (MQTT 3.1.1
            # §3.14.4), so the goodbye must be said by us.
            try:
                async with asyncio.timeout(STOP_DRAIN_S):
                    await client.publish(self.topics.status, OFFLINE, qos=STATE_QOS, retain=True)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.info("mqtt: offline not published at shutdown: %s", exc)
        for task in (*self._tasks, run_task):
            task.cancel()
        await asyncio.wait({run_task, *self._tasks})
        self.connected.clear()

    # ---- connection ----------------------------------------------------------------------------

    async def _run(self) -> None:
        await stay_connected(
            self.broker,
            client_name="chargedeck-pub",
            will=aiomqtt.Will(self.topics.status, OFFLINE, qos=STATE_QOS, retain=True),
            set_up=self._set_up,
            receive=self._receive,
            connected=self.connected,
            clock=self._services.clock,
            logger=log,
            label="mqtt publishing:",
            first_s=self._reconnect_first_s,
            max_s=self._reconnect_max_s,
            closed=self._forget_client,
        )

    def _forget_client(self) -> None:
        """Connection gone: states wait in ``_retained`` for the next one."""
        self._client = None

    async def _set_up(self, client: aiomqtt.Client, back: str) -> None:
        await client.subscribe(self.topics.commands, qos=1)
        await self._publish_everything(client)
        log.info(
            "mqtt publishing charger state on %s/charge-points/# to %s%s%s%s",
            self.topics.prefix,
            self.broker.address,
            f", discovery under {self._discovery_prefix}" if self._discovery_prefix else "",
            "; commands on" if self._commands else "; commands off (mqtt_commands)",
            back,
        )

    async def _receive(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        self._spawn(self._receive_command(client, message))

    async def _publish_everything(self, client: aiomqtt.Client) -> None:
        """After (re)connecting: online, a fresh snapshot from the store, then every retained
        state, under the lock so no event publishes in between."""
        async with self._lock:
            await self._snapshot([])  # into _retained, all published just below
            await client.publish(self.topics.status, ONLINE, qos=STATE_QOS, retain=True)
            for topic, payload in list(self._retained.items()):
                await client.publish(topic, payload, qos=STATE_QOS, retain=True)
            self._client = client

    async def _send(self, updates: Sequence[tuple[str, bytes]]) -> None:
        client = self._client
        if client is None or not updates:
            return  # kept in _retained: published on the next connection
        try:
            for topic, payload in updates:
                await client.publish(topic, payload, qos=STATE_QOS, retain=True)
        except aiomqtt.MqttError as exc:
            log.debug("mqtt publish failed (replayed after the reconnect): %s", exc)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Commands run beside each other and beside the message loop: a charger that takes
        its 30 s call time-out holds up nothing else."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_command_end)

    # ---- state ---------------------------------------------------------------------------------

    def _put(self, updates: list[tuple[str, bytes]], topic: str, payload: bytes) -> None:
        if self._retained.get(topic) != payload:
            self._retained[topic] = payload
            updates.append((topic, payload))

    async def _snapshot(self, updates: list[tuple[str, bytes]]) -> None:
        """Availability, connector statuses, open transactions, limits and discovery of the
        chargers this process speaks for, from the store and the live connections. A single
        node speaks for every known charger (offline unless connected); a cluster node only for
        the chargers connected to it."""
        store = self._services.store
        connected = {str(link.state.charge_point_id) for link in self._services.stations}
        records = {
            str(record.id): record
            for record in (
                []
                if self._clustered
                else await store.charge_points.list_charge_points(Registration.REGISTERED)
            )
        }
        for cp in connected - records.keys():
            record = await store.charge_points.get_charge_point(ChargePointId(cp))
            if record is not None:
                records[cp] = record
        ids = sorted(records.keys() | connected)
        transactions = await store.transactions.open_transactions_of(
            [ChargePointId(cp) for cp in ids]
        )
        for cp in ids:
            charger = self._chargers.setdefault(cp, _Charger())
            online = cp in connected
            self._put(updates, self.topics.availability(cp), ONLINE if online else OFFLINE)
            for row in await store.connectors.list_connectors(ChargePointId(cp)):
                charger.connectors.add(row.connector_id)
                self._put(
                    updates,
                    self.topics.connector(cp, row.connector_id, "status"),
                    row.status.encode(),
                )
            open_now = {t.connector_id: t for t in transactions.get(ChargePointId(cp), [])}
            for connector_id in charger.connectors - {0}:
                record_t = open_now.get(ConnectorId(connector_id))
                self._set_transaction(updates, cp, connector_id, record_t)
            for limit in self._services.load_control.effective_limits(cp):
                if limit.limit_a is not None:
                    self._put(
                        updates,
                        self.topics.connector(cp, limit.connector_id, "limit_a"),
                        _number(limit.limit_a, 1),
                    )
            await self._put_operator_limit(updates, cp)
            self._put(updates, self.topics.alerts(cp), self._alerts_payload(charger))
            record = records.get(cp)
            if record is not None:
                self._announce(updates, record, charger)

    def _set_transaction(
        self,
        updates: list[tuple[str, bytes]],
        cp: str,
        connector_id: int,
        record: TransactionRecord | None,
    ) -> None:
        charger = self._chargers.setdefault(cp, _Charger())
        known = charger.transactions.get(connector_id)
        if record is None:
            charger.transactions.pop(connector_id, None)
            self._put(updates, self.topics.connector(cp, connector_id, "transaction"), b"")
            return
        if known is not None and known.transaction_id == record.id:
            return  # keep the energy counted from meter values
        state = TransactionState(
            transaction_id=int(record.id),
            id_tag=str(record.id_tag),
            started_at=record.started_at,
            meter_start_wh=int(record.meter_start),
        )
        charger.transactions[connector_id] = state
        self._put(
            updates, self.topics.connector(cp, connector_id, "transaction"), _ENCODER.encode(state)
        )

    async def _put_operator_limit(self, updates: list[tuple[str, bytes]], cp: str) -> None:
        """The limit number's state: the operator's cap in A, or the model's maximum without one
        (a cap in kW has no value in A and leaves the state as it was)."""
        limit = await self._services.store.sites.charger_limit(ChargePointId(cp))
        if limit is None:
            record = await self._services.store.charge_points.get_charge_point(ChargePointId(cp))
            if record is None:
                return
            maximum = model_for(record.vendor or "", record.model or "").max_current_a
            self._put(updates, self.topics.operator_limit(cp), _number(maximum, 1))
        elif limit.unit == "A":
            self._put(updates, self.topics.operator_limit(cp), _number(limit.value, 1))

    def _announce(
        self, updates: list[tuple[str, bytes]], record: ChargePointRecord, charger: _Charger
    ) -> None:
        if not self._discovery_prefix or record.registration is not Registration.REGISTERED:
            return
        charger.announced = True
        for topic, payload in discovery_configs(
            self.topics,
            self._discovery_prefix,
            record,
            charger.connectors,
            commands=self._commands,
        ):
            self._put(updates, topic, payload)

    @staticmethod
    def _alerts_payload(charger: _Charger) -> bytes:
        return _ENCODER.encode(list(charger.alerts.values()))

    async def _follow_events(self) -> None:
        subscription = self._subscription
        assert subscription is not None
        missed = 0
        async for delivered in subscription:
            event = delivered.published.event
            if not event.charge_point_id:
                continue  # site-wide: no charger topic to put it on
            async with self._lock:
                try:
                    if subscription.missed != missed:
                        # Fell more than the queue behind: what was lost is read back.
                        missed = subscription.missed
                        log.warning("mqtt publishing fell behind by %d events: resyncing", missed)
                        updates: list[tuple[str, bytes]] = []
                        await self._snapshot(updates)
                        await self._send(updates)
                    updates = await self._apply(event)
                except StoreError as exc:
                    log.warning(
                        "mqtt state of %r not updated for %s: %s",
                        event.charge_point_id,
                        event.__struct_config__.tag,
                        exc,
                    )
                    continue
                await self._send(updates)

    async def _apply(self, event: AnyEvent) -> list[tuple[str, bytes]]:
        """The retained states an event changes."""
        cp = event.charge_point_id
        if cp not in self._chargers and not isinstance(event, ChargerConnected):
            # Only chargers that connected here (or that this node speaks for, _snapshot) get
            # topics: a refused handshake under a made-up id must not create any.
            return []
        charger = self._chargers.setdefault(cp, _Charger())
        updates: list[tuple[str, bytes]] = []
        topics = self.topics
        if isinstance(event, ChargerConnected):
            self._put(updates, topics.availability(cp), ONLINE)
            await self._refresh_charger(updates, cp, charger)
        elif isinstance(event, ChargerBooted):
            await self._refresh_charger(updates, cp, charger)
        elif isinstance(event, ChargerDisconnected):
            self._put(updates, topics.availability(cp), OFFLINE)
        elif isinstance(event, StatusChanged):
            n = event.connector_id
            self._put(updates, topics.connector(cp, n, "status"), event.status.encode())
            if n not in charger.connectors:
                charger.connectors.add(n)
                if charger.announced and n != 0:  # a connector seen for the first time
                    await self._refresh_charger(updates, cp, charger)
        elif isinstance(event, MeterValuesReceived):
            self._apply_meter_values(updates, cp, charger, event)
        elif isinstance(event, LimitChanged):
            self._put(
                updates,
                topics.connector(cp, event.connector_id, "limit_a"),
                _number(event.limit_a, 1),
            )
            await self._put_operator_limit(updates, cp)  # an operator change leads here
        elif isinstance(event, TransactionStarted):
            state = TransactionState(
                transaction_id=event.transaction_id,
                id_tag=event.id_tag,
                started_at=event.started_at,
                meter_start_wh=event.meter_start_wh,
            )
            charger.transactions[event.connector_id] = state
            self._put(
                updates,
                topics.connector(cp, event.connector_id, "transaction"),
                _ENCODER.encode(state),
            )
        elif isinstance(event, TransactionStopped):
            for connector_id, state in list(charger.transactions.items()):
                if state.transaction_id == event.transaction_id:
                    self._set_transaction(updates, cp, connector_id, None)
        elif isinstance(event, AlertRaised | AlertCleared):
            key = (event.kind, event.connector_id)
            if isinstance(event, AlertRaised):
                charger.alerts[key] = AlertState(
                    kind=event.kind, message=event.message, connector_id=event.connector_id
                )
            else:
                charger.alerts.pop(key, None)
            self._put(updates, topics.alerts(cp), self._alerts_payload(charger))
        return updates

    def _apply_meter_values(
        self,
        updates: list[tuple[str, bytes]],
        cp: str,
        charger: _Charger,
        event: MeterValuesReceived,
    ) -> None:
        n = event.connector_id
        if event.power_w is not None and math.isfinite(event.power_w):
            self._put(updates, self.topics.connector(cp, n, "power_w"), _number(event.power_w, 1))
        if event.energy_wh is not None and math.isfinite(event.energy_wh):
            # The register, not the session: Home Assistant's total_increasing energy sensors
            # (its energy dashboard) want a meter that only resets when the meter does.
            kwh = event.energy_wh / 1000
            self._put(updates, self.topics.connector(cp, n, "energy_kwh"), _number(kwh, 3))
            state = charger.transactions.get(n)
            if state is not None and state.transaction_id == event.transaction_id:
                session_kwh = round(max(0.0, event.energy_wh - state.meter_start_wh) / 1000, 3)
                state = msgspec.structs.replace(state, energy_kwh=session_kwh)
                charger.transactions[n] = state
                self._put(
                    updates,
                    self.topics.connector(cp, n, "transaction"),
                    _ENCODER.encode(state),
                )
        if event.current_a is not None:
            l1, l2, l3 = (
                None if a is None or not math.isfinite(a) else round(a, 2) for a in event.current_a
            )
            self._put(
                updates,
                self.topics.connector(cp, n, "current_a"),
                _ENCODER.encode(PhaseCurrents(l1=l1, l2=l2, l3=l3)),
            )

    async def _refresh_charger(
        self, updates: list[tuple[str, bytes]], cp: str, charger: _Charger
    ) -> None:
        """A charger (re)connected or booted: its stored statuses, limit and discovery."""
        store = self._services.store
        for row in await store.connectors.list_connectors(ChargePointId(cp)):
            charger.connectors.add(row.connector_id)
            self._put(
                updates, self.topics.connector(cp, row.connector_id, "status"), row.status.encode()
            )
        await self._put_operator_limit(updates, cp)
        self._put(updates, self.topics.alerts(cp), self._alerts_payload(charger))
        record = await store.charge_points.get_charge_point(ChargePointId(cp))
        if record is not None:
            self._announce(updates, record, charger)

    # ---- commands ------------------------------------------------------------------------------

    async def _receive_command(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        parsed = self.topics.parse_command(topic)
        if parsed is None:
            return  # the subscription allows no other topic
        cp, action = parsed
        if not self._commands:
            log.warning(
                "mqtt command on %s ignored: commands over MQTT are off (set mqtt_commands "
                "to true, and restrict who may publish to %s with the broker's ACL)",
                topic,
                self.topics.commands,
            )
            return
        if self._clustered and self._services.stations.get_local(cp) is None:
            # Every node receives the message; the one holding the connection runs it, once.
            log.debug("mqtt command on %s left to the node holding %r", topic, cp)
            return
        payload = message.payload
        raw = payload if isinstance(payload, bytes) else str(payload or "").encode()
        try:
            if message.retain:
                # A retained command would run again on every reconnect of ours.
                raise BadCommand("a retained command is not run (publish it without retain)")
            result = await self._run_command(ChargePointId(cp), action, raw.strip())
            self.commands_run += 1
            log.info("mqtt command %s for %r: %s", action, cp, result.status or "done")
        except BadCommand as exc:
            self.commands_refused += 1
            log.warning("mqtt command on %s refused: %s", topic, exc)
            result = CommandResult(action=action, error=str(exc))
        except (
            CommandError,
            ChargePointDisconnected,
            CallTimeout,
            CallErrorReceived,
            InvalidResponse,
            StoreError,
        ) as exc:
            self.commands_refused += 1
            log.info("mqtt command %s for %r failed: %s", action, cp, exc)
            result = CommandResult(action=action, error=str(exc))
        try:
            await client.publish(
                self.topics.result(cp, action[:64]), _ENCODER.encode(result), qos=1
            )
        except aiomqtt.MqttError as exc:
            log.info("mqtt result of %s for %r not published: %s", action, cp, exc)

    async def _run_command(self, cp: ChargePointId, action: str, payload: bytes) -> CommandResult:
        if action == "start":
            start = _decode_body(_StartBody, payload, action)
            record = await self._services.store.charge_points.get_charge_point(cp)
            if record is None:
                raise NotFound(f"charge point {cp!r} is not known to this CSMS")
            request: dict[str, Any] = {"idTag": start.id_tag or remote_start_id_tag(record)}
            if start.connector_id is not None:
                request["connectorId"] = start.connector_id
            return await self._send_ocpp(cp, "RemoteStartTransaction", _ENCODER.encode(request))
        if action == "stop":
            stop = _decode_body(_StopBody, payload, action)
            transaction_id = await self._transaction_to_stop(cp, stop.connector_id)
            body = _ENCODER.encode({"transactionId": transaction_id})
            return await self._send_ocpp(cp, "RemoteStopTransaction", body)
        if action == "limit":
            return await self._set_limit(cp, payload)
        if action in COMMANDS:
            return await self._send_ocpp(cp, action, payload or b"{}")
        available = ", ".join((*HA_ALIASES, *sorted(COMMANDS)))
        raise BadCommand(f"{action[:64]!r} is not a command; available: {available}")

    async def _send_ocpp(self, cp: ChargePointId, action: str, payload: bytes) -> CommandResult:
        """As ``POST /charge-points/{id}/commands/{action}``: the payload in OCPP camelCase."""
        try:
            request = decode_request(ACTIONS[action], payload)
        except CallErrorSent as error:
            raise BadCommand(
                f"{action} payload is invalid ({error.code.value}): {error.description}"
            ) from None
        answer = await send_command(self._services, cp, request)
        response = _JSON.decode(encode_message(masked_answer(answer)))
        status = response.get("status") if isinstance(response, dict) else None
        return CommandResult(
            action=action,
            status=status if isinstance(status, str) else None,
            response=response if isinstance(response, dict) else None,
        )

    async def _transaction_to_stop(self, cp: ChargePointId, connector_id: int | None) -> int:
        open_now = (await self._services.store.transactions.open_transactions_of([cp])).get(cp, [])
        if connector_id is not None:
            open_now = [t for t in open_now if t.connector_id == connector_id]
        where = f"on connector {connector_id} of {cp!r}" if connector_id else f"on {cp!r}"
        if not open_now:
            raise BadCommand(f"no transaction is running {where}")
        if len(open_now) > 1:
            raise BadCommand(
                f"{len(open_now)} transactions are running {where}: name the connector, "
                'e.g. {"connector_id": 1}'
            )
        return int(open_now[0].id)

    async def _set_limit(self, cp: ChargePointId, payload: bytes) -> CommandResult:
        """As ``PUT /charge-points/{id}/limit`` (``none`` as DELETE): a bare number of A (what a
        Home Assistant number sends), ``{"value": 7.4, "unit": "kW"}``, or ``none``."""
        services = self._services
        if payload.lower() in (b"none", b"null"):
            await services.store.sites.clear_charger_limit(cp)
            value, unit = None, None
        else:
            try:
                body = msgspec.json.decode(payload, type=float | _LimitBody)
            except msgspec.DecodeError as exc:
                raise BadCommand(
                    f"{exc}; expected a number of A, "
                    '{"value": NUMBER, "unit": "A" or "kW"}, or none'
                ) from None
            if isinstance(body, float):
                body = _LimitBody(value=body)
            try:
                value, unit = check_operator_limit(body.value, body.unit)
            except ValueError as exc:
                raise BadCommand(str(exc)) from None
            await services.store.sites.set_charger_limit(cp, value, unit, services.clock.now())
        services.load_control.charger_changed(cp)
        async with self._lock:
            updates: list[tuple[str, bytes]] = []
            await self._put_operator_limit(updates, cp)
            await self._send(updates)
        return CommandResult(
            action="limit",
            status="Accepted",
            response={"value": value, "unit": unit},
        )


def _decode_body(struct: type[_BodyT], payload: bytes, action: str) -> _BodyT:
    if not payload:
        return struct()
    try:
        return msgspec.json.decode(payload, type=struct)
    except msgspec.DecodeError as exc:
        fields = ", ".join(getattr(struct, "__struct_fields__", ()))
        raise BadCommand(
            f"{exc}; expected nothing or a JSON object with {fields} for {action}"
        ) from None
