"""MQTT input: grid meter and solar readings for load control (issue 6, field notes need 7).

A meter adapter (Home Assistant, Node-RED, a Modbus bridge) publishes to

    PREFIX/sites/<site name>/grid    {"l1_a": 10.2, "l2_a": 8.0, "l3_a": 9.1,
                                      "measured_at": "2026-11-26T10:00:00Z"}
    PREFIX/sites/<site name>/solar   {"power_w": 3200, "measured_at": "..."}  or a bare 3200

Currents are per phase in A, import positive, export negative; a single-phase site may send
only ``l1_a``. ``measured_at`` (RFC 3339 with an offset) defaults to the time of arrival. Each
reading goes to :meth:`LoadControl.receive_reading`, which stores it and recomputes the site.

Nothing a publisher sends can stop the input: a bad message is one warning naming the topic
and what was wrong, and is counted. A broker that is down or drops is retried with a growing
back-off and logged once per outage, so the server starts and runs without it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import aiomqtt
import msgspec
from paho.mqtt.reasoncodes import ReasonCode

from chargedeck.domain.charging_modes import GridReading, SolarReading
from chargedeck.store.errors import NotFound, StoreError

if TYPE_CHECKING:
    from chargedeck.clock import Clock
    from chargedeck.csms.context import CsmsServices

log = logging.getLogger(__name__)

DEFAULT_MQTT_PORT = 1883
"""The IANA port of unencrypted MQTT (MQTT 3.1.1 §4.2)."""
MAX_AHEAD_S = 60.0
"""A reading stamped further than this in the future is refused: the publisher's clock is
wrong, and a reading "from the future" would look fresh for too long (meter_stale_after_s)."""
RECONNECT_FIRST_S = 1.0
"""First wait after a failed connection; doubled on each further failure ..."""
RECONNECT_MAX_S = 30.0
"""... up to this: a broker restart is noticed within half a minute, a dead one costs one
attempt per 30 s."""
READING_SOURCE = "mqtt"


class BadReading(ValueError):
    """A message the input cannot use; the sentence says what was wrong with it."""


@dataclass(frozen=True)
class MqttBroker:
    """Where the broker is, from the ``mqtt_url`` setting."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttBroker:
    """``mqtt://[USER[:PASSWORD]@]HOST[:PORT]`` (port 1883 by default). Raises ``ValueError``
    naming the setting and what is expected; the password is never repeated."""
    expected = "expected mqtt://[USER:PASSWORD@]HOST[:PORT]"
    parts = urlsplit(url)
    shown = url.replace(f":{parts.password}@", ":***@") if parts.password else url
    if parts.scheme != "mqtt":
        raise ValueError(f"mqtt_url={shown!r}: {expected} (mqtts is not supported yet)")
    try:
        port = parts.port or DEFAULT_MQTT_PORT
    except ValueError:
        raise ValueError(
            f"mqtt_url={shown!r}: the port is not a number 1-65535; {expected}"
        ) from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"mqtt_url={shown!r}: {expected}")
    return MqttBroker(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


# ---- payloads ----------------------------------------------------------------------------------


class _GridBody(msgspec.Struct, forbid_unknown_fields=True):
    # Unknown fields are refused: a misspelt "L2_a" must not silently read as 0 A on L2, which
    # would hide household load from the fuse budget.
    l1_a: float
    l2_a: float = 0.0
    l3_a: float = 0.0
    measured_at: datetime | None = None


class _SolarBody(msgspec.Struct, forbid_unknown_fields=True):
    power_w: float
    measured_at: datetime | None = None


def parse_grid_payload(payload: bytes, *, now: datetime, retained: bool = False) -> GridReading:
    """A grid meter message. Raises :class:`BadReading`."""
    try:
        body = msgspec.json.decode(payload, type=_GridBody)
    except msgspec.DecodeError as exc:
        raise _bad_json(
            payload, exc, "a JSON object with l1_a[, l2_a, l3_a, measured_at]"
        ) from None
    for name in ("l1_a", "l2_a", "l3_a"):
        _check_finite(name, getattr(body, name))
    return GridReading(
        amps=(body.l1_a, body.l2_a, body.l3_a),
        measured_at=_measured_at(body.measured_at, now, retained),
    )


def parse_solar_payload(payload: bytes, *, now: datetime, retained: bool = False) -> SolarReading:
    """A solar production message: a JSON object or a bare number of W. Raises
    :class:`BadReading`."""
    try:
        body = msgspec.json.decode(payload, type=_SolarBody | float)
    except msgspec.DecodeError as exc:
        expected = "a number of W or a JSON object with power_w[, measured_at]"
        raise _bad_json(payload, exc, expected) from None
    if isinstance(body, float):
        body = _SolarBody(power_w=body)
    _check_finite("power_w", body.power_w)
    if body.power_w < 0:
        raise BadReading(f"power_w is {body.power_w:g}; solar production is 0 W or more")
    return SolarReading(
        power_w=body.power_w, measured_at=_measured_at(body.measured_at, now, retained)
    )


_NOT_A_NUMBER = re.compile(rb"\b(NaN|Infinity)\b")


def _bad_json(payload: bytes, exc: msgspec.DecodeError, expected: str) -> BadReading:
    if _NOT_A_NUMBER.search(payload):
        # Python's json.dumps writes float("nan") as NaN, which JSON (RFC 8259 §6) does not have.
        return BadReading(f"NaN or Infinity is not a reading (nor JSON); expected {expected}")
    return BadReading(f"{exc}; expected {expected}")


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise BadReading(f"{name} is {value}; expected a finite number")


def _measured_at(measured_at: datetime | None, now: datetime, retained: bool) -> datetime:
    if measured_at is None:
        if retained:
            # A retained message is replayed on every subscription: without its own timestamp
            # its age is unknown, and stamping it "now" would pass an old reading as fresh.
            raise BadReading("a retained reading needs measured_at (its age is unknown)")
        return now
    if measured_at.tzinfo is None:
        raise BadReading(f"measured_at {measured_at.isoformat()} has no UTC offset (add Z)")
    if measured_at - now > timedelta(seconds=MAX_AHEAD_S):
        ahead = (measured_at - now).total_seconds()
        raise BadReading(
            f"measured_at {measured_at.isoformat()} is {ahead:.0f} s in the future "
            f"(at most {MAX_AHEAD_S:.0f} s allowed; check the publisher's clock)"
        )
    return measured_at


# ---- staying connected -------------------------------------------------------------------------


async def stay_connected(
    broker: MqttBroker,
    *,
    client_name: str,
    will: aiomqtt.Will | None = None,
    set_up: Callable[[aiomqtt.Client, str], Awaitable[None]],
    receive: Callable[[aiomqtt.Client, aiomqtt.Message], Awaitable[None]],
    connected: asyncio.Event,
    clock: Clock,
    logger: logging.Logger,
    label: str,
    first_s: float,
    max_s: float,
    closed: Callable[[], None] | None = None,
) -> None:
    """Keep a client of ``broker`` connected until cancelled: the one reconnect loop of the
    readings input and the state publisher, so both survive a broker that is down at start or
    restarts. Each connection has a fresh client id: ``client_name`` and a random suffix.

    On each connection ``set_up(client, back)`` subscribes or publishes and logs that it is
    connected, ending its line with ``back`` (`` (back after N s)`` after an outage, else
    empty); then ``connected`` is set and every message goes to ``receive``. A failed or lost
    connection (aiomqtt.MqttError) is logged once per outage at WARNING on ``logger``, prefixed
    with ``label``, and retried after ``first_s``, doubled on each further failure up to
    ``max_s``. ``connected`` is clear whenever the client is not, and ``closed`` is called as
    each connection ends. aiomqtt's and paho's own lines go to ``logger``'s child ``client``.
    """
    delay = first_s
    outage_since: float | None = None
    while True:
        try:
            async with aiomqtt.Client(
                broker.host,
                broker.port,
                username=broker.username,
                password=broker.password,
                identifier=f"{client_name}-{uuid.uuid4().hex[:12]}",
                will=will,
                logger=logger.getChild("client"),
            ) as client:
                back = (
                    ""
                    if outage_since is None
                    else f" (back after {clock.monotonic() - outage_since:.0f} s)"
                )
                await set_up(client, back)
                outage_since, delay = None, first_s
                connected.set()
                async for message in client.messages:
                    await receive(client, message)
        except aiomqtt.MqttError as exc:
            if outage_since is None:
                outage_since = clock.monotonic()
                what = "connection lost" if connected.is_set() else "broker unreachable"
                logger.warning(
                    "%s %s on %s: %s; retrying with a back-off of up to %g s "
                    "(logged once per outage)",
                    label,
                    what,
                    broker.address,
                    exc,
                    max_s,
                )
        finally:
            connected.clear()
            if closed is not None:
                closed()
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_s)


def _report_end(task: asyncio.Task[None]) -> None:
    """The input only ends by :meth:`MqttInput.stop`; anything else is a bug, and says so."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("mqtt input stopped: readings are no longer received", exc_info=exc)


# ---- the input ---------------------------------------------------------------------------------


class MqttInput:
    """Subscribes to the readings topics and hands each reading to load control, reconnecting
    for as long as it runs. ``received`` counts readings handed on, ``rejected`` bad messages."""

    def __init__(
        self,
        services: CsmsServices,
        *,
        mqtt_url: str,
        topic_prefix: str,
        reconnect_first_s: float = RECONNECT_FIRST_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
    ) -> None:
        """Raises ``ValueError`` naming the setting for a bad ``mqtt_url`` or prefix."""
        self._services = services
        self.broker = parse_mqtt_url(mqtt_url)
        if not topic_prefix or any(c in topic_prefix for c in "+#") or topic_prefix.endswith("/"):
            raise ValueError(
                f"mqtt_topic_prefix={topic_prefix!r}: expected topic levels without wildcards "
                "(+, #) or a trailing /, e.g. chargedeck or home/chargedeck"
            )
        self._sites_prefix = f"{topic_prefix}/sites/"
        self.topics = (f"{topic_prefix}/sites/+/grid", f"{topic_prefix}/sites/+/solar")
        self._reconnect_first_s = reconnect_first_s
        self._reconnect_max_s = reconnect_max_s
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        """Set while subscribed (tests and health checks wait on it)."""
        self.received = 0
        self.rejected = 0

    def start(self) -> None:
        """Begin connecting in the background; returns at once, broker up or not."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="chargedeck-mqtt-input"
            )
            self._task.add_done_callback(_report_end)

    async def stop(self) -> None:
        """Disconnect and stop retrying."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})  # a cancellation of stop() itself still propagates
        self.connected.clear()

    async def _run(self) -> None:
        await stay_connected(
            self.broker,
            client_name="chargedeck",
            set_up=self._subscribe,
            receive=lambda _client, message: self._receive(message),
            connected=self.connected,
            clock=self._services.clock,
            logger=log,
            label="mqtt",
            first_s=self._reconnect_first_s,
            max_s=self._reconnect_max_s,
        )

    async def _subscribe(self, client: aiomqtt.Client, back: str) -> None:
        granted = await client.subscribe([(topic, 0) for topic in self.topics])
        # MQTT 3.1.1 §3.9.3: 0x80 in SUBACK = the broker refused the subscription (its ACL).
        refused = [
            topic
            for topic, code in zip(self.topics, granted, strict=True)
            if (code.is_failure if isinstance(code, ReasonCode) else code == 0x80)
        ]
        if refused:
            raise aiomqtt.MqttError(f"the broker refused the subscription to {', '.join(refused)}")
        log.info("mqtt subscribed to %s and %s on %s%s", *self.topics, self.broker.address, back)

    async def _receive(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        try:
            await self._receive_reading(topic, message)
        except BadReading as exc:
            self.rejected += 1
            log.warning("mqtt message on %s ignored: %s", topic, exc)

    async def _receive_reading(self, topic: str, message: aiomqtt.Message) -> None:
        name, _, kind = topic.removeprefix(self._sites_prefix).rpartition("/")
        payload = message.payload
        now = self._services.clock.now()
        reading: GridReading | SolarReading
        if kind == "grid":
            reading = parse_grid_payload(payload, now=now, retained=message.retain)
        elif kind == "solar":
            reading = parse_solar_payload(payload, now=now, retained=message.retain)
        else:  # the subscriptions allow no other topic
            raise BadReading(f"not a readings topic ({', '.join(self.topics)})")
        store = self._services.store
        try:
            site = await store.sites.site_by_name(name)
            await self._services.load_control.receive_reading(site.id, reading, READING_SOURCE)
        except NotFound:
            raise BadReading(f"there is no site named {name!r}") from None
        except StoreError as exc:
            raise BadReading(f"reading not stored: {exc}") from None
        self.received += 1
