"""One settings object, built once, that fails loudly (STYLE rule 7, DESIGN §10).

Precedence: defaults < ``chargedeck.toml`` < ``CHARGEDECK_*`` environment < command-line flags.
Every key has the same name everywhere: ``key`` in the file, ``CHARGEDECK_KEY`` in the
environment and ``--key-with-dashes`` on ``chargedeck serve``. A bad value stops start-up with a
sentence naming the key, the value and what was expected; secrets are never printed.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from chargedeck.domain.charge_points import UnknownChargePointPolicy

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]

ENV_PREFIX = "CHARGEDECK_"
DEFAULT_CONFIG_FILE = "chargedeck.toml"


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Every ChargeDeck setting with its default and where the number comes from."""

    ocpp_host: str = "0.0.0.0"
    """Charger WebSocket endpoint address; 0.0.0.0 because chargers live on the LAN (DESIGN §1)."""
    ocpp_port: Port = 9000
    """Charger WebSocket port; chargers connect to ws://HOST:9000/ocpp/<ChargePointID>."""
    http_host: str = "127.0.0.1"
    """Operator API address; loopback until the operator opts in to exposing it (DESIGN §1)."""
    http_port: Port = 8000
    """Operator API port."""
    database_url: str = "sqlite:///./chargedeck.db"
    """sqlite:///PATH (embedded default) or postgresql://USER@HOST:PORT/DB."""
    data_dir: str = "."
    """Folder for files (firmware, diagnostics, certificates)."""
    unknown_charge_points: UnknownChargePointPolicy = UnknownChargePointPolicy.INBOX
    """inbox (Boot -> Pending, listed for adoption), accept, or reject (HTTP 404)."""
    heartbeat_interval_s: Annotated[int, msgspec.Meta(ge=1, le=86400)] = 300
    """Interval returned in BootNotification.conf; ping/pong covers liveness in between
    (OCPP-J 1.6 §5.2), and a Heartbeat a few minutes apart keeps the charger clock in sync."""
    boot_pending_interval_s: Annotated[int, msgspec.Meta(ge=1, le=86400)] = 30
    """Wait returned with a Pending boot: short so an adopted charger is accepted quickly."""
    call_timeout_s: PositiveSeconds = 30.0
    """Time-out for our calls to a charger: the PyPI ocpp library and ocpp-rpc both use 30 s."""
    ocpp_transport: Literal["websockets", "picows"] = "websockets"
    """WebSocket library of the charger endpoint (DESIGN §4): websockets (default, the reference
    behaviour) or picows (about 3.5x less CPU per frame; same handshake, limits and close codes)."""
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 65536
    """Largest WebSocket message accepted (DESIGN §4); larger closes with 1009."""
    ping_interval_s: PositiveSeconds = 60.0
    """WebSocket ping period (DESIGN §4); the charger's WebSocketPingInterval may differ."""
    ping_timeout_s: PositiveSeconds = 30.0
    """How long a pong may take before the connection is considered dead."""
    close_timeout_s: PositiveSeconds = 5.0
    """Graceful shutdown: how long in-flight replies may take before connections are dropped."""
    sqlite_synchronous: str = "FULL"
    """SQLite PRAGMA synchronous: FULL survives power loss, NORMAL only process crashes."""
    batch_max_rows: Annotated[int, msgspec.Meta(ge=1)] = 500
    """Group-commit cap for MeterValues/StatusNotification rows (DESIGN §6)."""
    batch_max_delay_s: PositiveSeconds = 0.05
    """Longest a row waits for its group commit (DESIGN §6)."""
    accepted_data_transfer_vendors: tuple[str, ...] = ()
    """DataTransfer vendorIds recorded and answered Accepted; others get UnknownVendorId."""
    log_level: str = "INFO"
    """Python logging level name."""
    min_security_profile: Annotated[int, msgspec.Meta(ge=0, le=3)] = 0
    """Lowest security profile any charger may connect with (Security Whitepaper ed.3): 1 refuses
    chargers without a password, 2 refuses plain ws, 3 requires client certificates."""
    tls_cert: str = ""
    """PEM server certificate chain (leaf first); with tls_key it enables wss:// on ocpp_tls_port.
    Several files may be given separated by commas (e.g. an RSA and an ECDSA certificate)."""
    tls_key: str = ""
    """PEM private key(s) of tls_cert, in the same order."""
    tls_ca: str = ""
    """PEM CA certificate(s) that charger client certificates must chain to (profile 3)."""
    ocpp_listen_backlog: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 4096
    """Connections the charger ports queue before they are accepted. asyncio's default of 100
    made a 10,000-charger reconnect storm take 40 s, most of it in SYN retries (bench/fleet.py;
    4,096 = Linux's default net.core.somaxconn, which caps it)."""
    ocpp_tls_port: Port = 9443
    """wss:// port for profiles 2 and 3 when tls_cert is set; the ws:// ocpp_port stays open for
    profiles 0 and 1 and refuses profile 2/3 chargers with the reason."""
    tls_handshake_timeout_s: PositiveSeconds = 10.0
    """How long a charger may take to complete the TLS handshake."""
    tls_reload_interval_s: PositiveSeconds = 10.0
    """How often the certificate files are checked for changes (hot reload, no disconnects)."""
    auth_failures_before_backoff: Annotated[int, msgspec.Meta(ge=1)] = 5
    """Failed connection attempts (per remote address and per charge point id) before further
    attempts are refused with 429 for a growing back-off."""
    auth_backoff_max_s: PositiveSeconds = 300.0
    """Longest back-off after repeated failed attempts."""
    files_host: str = "0.0.0.0"
    """Address of the file endpoint chargers download firmware from and upload diagnostics to
    (plain HTTP: chargers' OCPP 1.6 firmware/diagnostics locations rarely do TLS)."""
    files_port: Port = 9080
    """Port of the file endpoint; 0 picks a free one."""
    files_public_url: str = ""
    """Base URL chargers reach the file endpoint at (e.g. http://192.168.1.10:9080); empty:
    http://<this machine's LAN address>:<files_port>."""
    max_upload_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 50 * 1024 * 1024
    """Largest diagnostics/log upload accepted, by HTTP (else 413) and by FTP (else 552)."""
    ftp_enabled: bool = False
    """Run the FTP endpoint for chargers that upload diagnostics only by FTP (OCPP 1.6 §8 allows
    FTP or HTTP(S) locations); off by default: FTP sends its credentials in clear text."""
    ftp_host: str = ""
    """Address of the FTP endpoint; empty: files_host."""
    ftp_port: Port = 2121
    """Port of the FTP endpoint (2121: 21 needs root); 0 picks a free one. Passive data
    connections use a free port of the same address."""
    firmware_url_ttl_s: PositiveSeconds = 7 * 24 * 3600.0
    """How long a firmware job's download URL works (chargers may download days later)."""
    configuration_snapshot_delay_s: PositiveSeconds = 60.0
    """How long after a charger's boot is accepted ChargeDeck reads its full configuration for
    the configuration memory, and how often it looks again while a transaction runs (snapshots
    wait for the transaction to end: a GetConfiguration of 50+ keys is not sent mid-session).
    60 s lets the boot-time StatusNotifications and the other engineers' post-boot work go first."""
    load_control_debounce_s: PositiveSeconds = 1.0
    """Site recomputation waits this long after the first event (status, meter value, reading,
    operator change) so a burst of events costs one recomputation (DESIGN §7)."""
    limit_dead_band_a: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """A raise of no more than this many amps is not sent, nor a cut of no more than this while
    the limits in force still fit every circuit (pauses and resumes always are): a noisy meter
    must not rewrite profiles (flash wear). 1 A: the step of whole-amp chargers (Wallbox)."""
    limit_lease_s: PositiveSeconds = 300.0
    """A limit above a connector's safe share is sent with a schedule that ends this long after
    it is sent, and renewed while ChargeDeck runs: if ChargeDeck is lost the charger falls back
    to its fail-safe TxDefaultProfile within this time (docs/smart-charging.md)."""
    limit_alert_window_s: PositiveSeconds = 120.0
    """How long a connector may draw above its limit (plus limit_alert_margin_a) before a
    "limit not honoured" alert is raised: about two Wallbox sample intervals after the profile
    takes effect (field notes Q6: verify within ~2 sample intervals)."""
    limit_alert_margin_a: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """Measured current may exceed the limit by this much before it counts as over (field notes
    Q6: "Current.Import vs. limit + 1 A")."""
    limit_min_interval_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    """Least time between two limit profiles to one charger, for every model; unset: each
    charger model's own (domain/charger_models ``min_profile_interval_s``, 30 s: flash wear)."""
    nominal_voltage_v: Annotated[float, msgspec.Meta(gt=0)] = 230.0
    """Phase-to-neutral voltage used to convert between kW and A when a charger reports none."""
    solar_start_delay_s: Annotated[float, msgspec.Meta(ge=0)] = 120.0
    """Solar surplus must cover a connector's minimum this long before it starts: Wallbox's own
    Eco-Smart starts after 2 min of export (field notes, need 2)."""
    solar_stop_delay_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    """Surplus may stay below the minimum this long before a solar-only connector pauses
    (Eco-Smart pauses after 30 s below, field notes need 2)."""
    min_charging_time_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    """Least time a connector charges once resumed before load control may pause it again, and
    for which a paused connector stays paused: protects contactors and the car."""
    mqtt_url: str = ""
    """MQTT broker for grid meter and solar readings (e.g. mqtt://127.0.0.1:1883); empty: off."""
    mqtt_topic_prefix: str = "chargedeck"
    """Readings arrive on PREFIX/sites/<site name>/grid and PREFIX/sites/<site name>/solar."""
    mqtt_publish: bool = True
    """With mqtt_url set: publish charger and connector state on PREFIX/charge-points/<id>/...,
    take commands on its command topics, and announce them to Home Assistant."""
    mqtt_discovery_prefix: str = "homeassistant"
    """Home Assistant MQTT discovery prefix (its default); empty: no discovery messages."""
    message_log_enabled: bool = True
    """Store every OCPP frame in and out per charger (the message log, "explain")."""
    message_log_retention_days: Annotated[float, msgspec.Meta(gt=0)] = 7.0
    """Frames older than this are deleted (hourly): a week covers "what happened on Friday"."""
    message_log_max_rows: Annotated[int, msgspec.Meta(ge=1000)] = 1_000_000
    """At most this many frames are kept, the oldest deleted first: about 300 MB of frames."""
    webhook_timeout_s: PositiveSeconds = 10.0
    """Time a webhook receiver has to answer one delivery."""
    webhook_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    """Attempts per delivery (back-off 1 s doubling to 1 h between them) before it is failed."""
    public_host: str = ""
    """The host name or LAN address chargers use to reach this machine, shown by the add-a-charger
    assistant; empty: the address of the interface that routes to the LAN."""
    cluster_url: str = ""
    """NATS server shared by several nodes (nats://HOST:4222) with one PostgreSQL database_url:
    presence, command routing and events between nodes; empty: a single node."""
    node_name: str = ""
    """This node's name in a cluster (unique per node); empty: HOSTNAME-PID."""
    cluster_presence_ttl_s: Annotated[float, msgspec.Meta(ge=1, le=300)] = 6.0
    """A node that has not renewed its heartbeat for this long is dead: its chargers show
    offline and their reconnections elsewhere are taken."""
    cluster_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = "chargedeck"
    """Names of this cluster's NATS subjects (PREFIX.events, PREFIX.node.NAME.call) and key-value
    buckets (PREFIX_nodes, PREFIX_chargers, PREFIX_sites): two clusters can share one NATS."""
    mqtt_commands: bool = False
    """Take commands on PREFIX/charge-points/<id>/command/<action> (start, stop, limit, any
    operator OCPP command). Off by default: whoever may publish to the broker could then start
    and stop charging; who may publish there is the broker's ACL, the operator's job."""
    metrics_public: bool = False
    """Serve GET /metrics without a token. Off by default: the metrics name chargers' actions
    and refusal reasons; a Prometheus scraper sends a read token (bearer_token in its job)."""
    webhook_retry_base_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 1.0
    """First wait before retrying a webhook delivery, doubled after each failure up to 1 h: the
    GitHub/Stripe style of back-off (1 s, 2 s, 4 s ...; 10 attempts span about 8.5 minutes)."""
    time_zone: str = "UTC"
    """The operator's IANA time zone (e.g. Europe/Madrid): reports and exports show times in it,
    with their offset; tariff time-of-day windows are in it. Times are stored in UTC."""

    def __post_init__(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"time_zone={self.time_zone!r}: expected an IANA time zone such as Europe/Madrid"
            ) from None
        if self.sqlite_synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"sqlite_synchronous={self.sqlite_synchronous!r}: "
                "expected OFF, NORMAL, FULL or EXTRA"
            )
        if not (
            self.database_url.startswith("sqlite:///")
            or self.database_url.startswith("postgresql://")
        ):
            raise ValueError(
                f"database_url: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB, "
                f"got a value starting with {self.database_url.split(':', 1)[0]!r}"
            )


class SettingsError(Exception):
    """A setting was given a value it cannot take; the message names key, value and expectation."""


@dataclass(frozen=True)
class SettingSource:
    """Where a raw value came from, so errors can say "in chargedeck.toml" or "in CHARGEDECK_X"."""

    key: str
    raw: Any
    origin: str


SETTING_KEYS: tuple[str, ...] = tuple(Settings.__struct_fields__)
_SECRET_KEYS: frozenset[str] = frozenset({"mqtt_url", "cluster_url"})  # may carry USER:PASSWORD@


def _field_type(key: str) -> Any:
    return Settings.__annotations__[key]


_BOOLEAN_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _coerce_text(key: str, text: str) -> Any:
    """Turn an environment/flag string into the JSON-ish value msgspec.convert expects."""
    field_type = str(_field_type(key))
    if field_type == "bool":
        return _BOOLEAN_TEXT.get(text.strip().lower(), text)
    if "tuple" in field_type:
        return [part.strip() for part in text.split(",") if part.strip()]
    if "int" in field_type or "Port" in field_type:
        try:
            return int(text)
        except ValueError:
            return text
    if "float" in field_type or "Seconds" in field_type:
        try:
            return float(text)
        except ValueError:
            return text
    return text


def _describe_expected(key: str) -> str:
    field_type = str(_field_type(key))
    if key == "unknown_charge_points":
        return "one of " + ", ".join(p.value for p in UnknownChargePointPolicy)
    if field_type == "bool":
        return "true or false"
    if "Port" in field_type:
        return "a port number 0-65535 (0 = pick a free port)"
    if "Seconds" in field_type:
        return "a positive number of seconds"
    if "int" in field_type:
        return "an integer in the documented range"
    if "tuple" in field_type:
        return "a comma-separated list"
    return "text"


def build_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the four layers and validate them; raise SettingsError naming the culprit."""
    sources: dict[str, SettingSource] = {}
    path = config_file if config_file is not None else Path(DEFAULT_CONFIG_FILE)
    if path.exists():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings file: {exc}") from exc
        for key, value in file_values.items():
            if key not in SETTING_KEYS:
                raise SettingsError(
                    f"{path}: unknown setting {key!r}; known settings: {', '.join(SETTING_KEYS)}"
                )
            sources[key] = SettingSource(key, value, str(path))
    elif config_file is not None:
        raise SettingsError(f"{path}: settings file does not exist")
    env = os.environ if environ is None else environ
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in SETTING_KEYS:
            continue  # CHARGEDECK_* variables of other tools (tests, scripts) are not settings
        sources[key] = SettingSource(key, _coerce_text(key, text), name)
    for key, text in (flags or {}).items():
        if key not in SETTING_KEYS:
            raise SettingsError(f"unknown option --{key.replace('_', '-')}")
        sources[key] = SettingSource(key, _coerce_text(key, text), f"--{key.replace('_', '-')}")
    for key, source in sources.items():
        try:
            msgspec.convert({key: source.raw}, type=Settings)
        except (msgspec.ValidationError, ValueError) as exc:
            shown = "***" if key in _SECRET_KEYS else repr(source.raw)
            raise SettingsError(
                f"{source.origin}: {key}={shown} is invalid: expected {_describe_expected(key)}"
                f" ({exc})"
            ) from exc
    try:
        return msgspec.convert({k: s.raw for k, s in sources.items()}, type=Settings)
    except (msgspec.ValidationError, ValueError) as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc


def parse_flag_args(args: Sequence[str]) -> dict[str, str]:
    """Parse ``--key-with-dashes VALUE`` / ``--key-with-dashes=VALUE`` pairs into settings keys."""
    flags: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("--"):
            raise SettingsError(
                f"unexpected argument {arg!r}; settings are --key-with-dashes VALUE"
            )
        name, sep, value = arg[2:].partition("=")
        key = name.replace("-", "_")
        if key not in SETTING_KEYS:
            raise SettingsError(
                f"unknown option --{name}; known: "
                + ", ".join("--" + k.replace("_", "-") for k in SETTING_KEYS)
            )
        if not sep:
            index += 1
            if index >= len(args):
                raise SettingsError(f"option --{name} needs a value")
            value = args[index]
        flags[key] = value
        index += 1
    return flags


def settings_help() -> str:
    """One line per setting for ``chargedeck serve --help``."""
    lines = []
    defaults = Settings()
    for key in SETTING_KEYS:
        lines.append(f"--{key.replace('_', '-')} (default {getattr(defaults, key)!r})")
    return "\n".join(lines)
