"""Scenario files of ``chargedeck simulate``: a fleet of simulated chargers and a timeline of
what happens to them (TOML, read with the standard library's ``tomllib``).

::

    [fleet]
    csms_url = "ws://127.0.0.1:9000/ocpp"   # the charge point id is appended
    id_pattern = "SIM-{n:04d}"              # n = 1 .. count
    count = 3
    model = "wallbox"                       # or "generic"
    password = "..."                        # security profile 1/2 (HTTP Basic)
    ca_file = "ca.pem"                      # wss://; relative to this file
    connectors = 1
    meter_interval_s = 10                   # else MeterValueSampleInterval
    duration_s = 60                         # else until Ctrl-C
    ramp_s = 2                              # start the chargers spread over 2 s

    [fleet.ev]
    battery_kwh = 60
    max_current_a = 32
    phases = 3
    start_soc = 0.2

    [[steps]]
    at = 0                                  # seconds from the start of the run
    action = "wait"
    state = "Accepted"                      # a connection state (Connected), a Boot answer
    chargers = "all"                        # (Accepted) or a connector status (Charging);
                                            # chargers: "all", the first N, or a list of n

    [[steps]]
    at = 1
    action = "tap"
    card = "04:A2:2B:1A:5C:3D:80"           # the UID as printed on the card
    chargers = [1, 3]
    every = 30                              # again every 30 s (until = ... to stop)

Steps run in file order, each at its ``at`` (a ``wait`` holds the later steps until its state
is reached, or fails after ``timeout_s``); an action applies to its chargers at once.
Everything here is parsing: no I/O but reading the file given. Mistakes raise
:class:`ScenarioError` naming the file, the step number and the field; a misspelt action or
field is a mistake, never ignored.
"""

from __future__ import annotations

import difflib
import enum
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from chargedeck.domain.card_uids import InvalidCardUid, parse_printed_uid
from chargedeck.ocpp.handshake import HandshakeRefused, check_charge_point_id
from chargedeck.ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, RegistrationStatus
from chargedeck.simulator.ev import EvModel
from chargedeck.simulator.events import ConnectionState
from chargedeck.simulator.models import MODELS

DEFAULT_CSMS_URL = "ws://127.0.0.1:9000/ocpp"
"""ChargeDeck's own charger endpoint on this machine (DESIGN §1, §10: ocpp_port 9000)."""
DEFAULT_ID_PATTERN = "SIM-{n:04d}"
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
MAX_CHARGERS = 100_000
"""Twice the 50,000 chargers issue 8 asks one machine to hold: more is a typo."""
MAX_CONNECTORS = 10
DEFAULT_WAIT_TIMEOUT_S = 30.0
"""A Boot answered Pending is retried after its interval; ChargeDeck's is 30 s
(boot_pending_interval_s), so a wait shorter than that misses a charger adopted meanwhile."""

T = TypeVar("T")
Reader = Callable[[Any, str], T]
"""Reads one field's value; the str is how messages name the field. Raises ScenarioError."""

CONNECTION_STATES: tuple[str, ...] = tuple(s.value for s in ConnectionState)
REGISTRATION_STATES: tuple[str, ...] = tuple(s.value for s in RegistrationStatus)
"""The answer to its last BootNotification: a charger is ready to charge once Accepted."""
WAIT_STATES: tuple[str, ...] = (
    CONNECTION_STATES + REGISTRATION_STATES + tuple(s.value for s in ChargePointStatus)
)


class ScenarioError(ValueError):
    """A scenario that cannot run; the message names the file, the step and the field."""


class Action(enum.StrEnum):
    PLUG_IN = "plug_in"
    TAP = "tap"
    UNPLUG = "unplug"
    GO_OFFLINE = "go_offline"
    GO_ONLINE = "go_online"
    FAULT = "fault"
    WAIT = "wait"


ChargerSelection = Literal["all"] | int | tuple[int, ...]
"""``"all"``; an int: the first N chargers; a tuple: the chargers with these n (1-based, the
``n`` of the id pattern)."""


@dataclass(frozen=True)
class FleetSpec:
    """The chargers of a run and how they reach their CSMS."""

    csms_url: str = DEFAULT_CSMS_URL
    id_pattern: str = DEFAULT_ID_PATTERN
    count: int = 1
    model: str = "wallbox"
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    connectors: int = 1
    meter_interval_s: float | None = None
    ev: EvModel = field(default_factory=EvModel)
    duration_s: float | None = None
    """None: until Ctrl-C."""
    ramp_s: float = 0.0
    """The chargers start spread evenly over this many seconds (0: all at once)."""

    def charge_point_id(self, n: int) -> str:
        """The id of charger ``n`` (1 .. count)."""
        return self.id_pattern.format(n=n)

    @property
    def charge_point_ids(self) -> list[str]:
        return [self.charge_point_id(n) for n in range(1, self.count + 1)]


@dataclass(frozen=True)
class Step:
    number: int
    """1-based position in the file, for messages."""
    at_s: float
    action: Action
    chargers: ChargerSelection = "all"
    connector_id: int = 1
    card: str | None = None
    """tap: the UID as printed (normalised to ``04:A2:...``)."""
    error_code: str = ChargePointErrorCode.GROUND_FAILURE.value
    """fault: the StatusNotification errorCode."""
    state: str | None = None
    """wait: a ConnectionState, a BootNotification answer or a connector status to reach."""
    timeout_s: float = DEFAULT_WAIT_TIMEOUT_S
    every_s: float | None = None
    until_s: float | None = None

    def charger_numbers(self, count: int) -> tuple[int, ...]:
        """The n (1-based) of the chargers this step acts on in a fleet of ``count``."""
        if self.chargers == "all":
            return tuple(range(1, count + 1))
        if isinstance(self.chargers, int):
            return tuple(range(1, min(self.chargers, count) + 1))
        return self.chargers

    def describe(self) -> str:
        """``step 2 (tap)``: how messages name a step."""
        return f"step {self.number} ({self.action.value})"


@dataclass(frozen=True)
class Scenario:
    fleet: FleetSpec
    steps: tuple[Step, ...] = ()
    source: str = "flags"
    """The file it came from (for messages), or ``flags``."""
    from_flags: frozenset[str] = frozenset()
    """Fleet fields given as command-line flags (messages name the flag, not the file)."""

    def fleet_field(self, key: str) -> str:
        """How messages name the fleet field ``key``: ``file: [fleet] count`` or ``--count``."""
        if self.source == "flags" or key in self.from_flags:
            return FLAG_NAMES.get(key, f"--{key.replace('_', '-')}")
        return f"{self.source}: [fleet] {key}"


FLAG_NAMES = {"csms_url": "CSMS_URL", "duration_s": "--duration"}
"""Fleet fields whose flag is not ``--`` + the field with dashes."""


# ---- reading a file --------------------------------------------------------------------------


def load_scenario(path: Path) -> Scenario:
    """Read and parse the scenario file at ``path``; ScenarioError if unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_scenario(text, str(path), base_dir=path.parent)


def parse_scenario(text: str, source: str, base_dir: Path | None = None) -> Scenario:
    """Parse the TOML ``text`` of a scenario; ``source`` names it in messages, ``base_dir`` is
    what a relative ``ca_file`` is relative to. Raises ScenarioError."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    _no_unknown_keys(document, {"fleet", "steps"}, f"{source}:")
    fleet_table = document.get("fleet", {})
    if not isinstance(fleet_table, dict):
        raise ScenarioError(f"{source}: fleet: must be a table ([fleet])")
    fleet = _parse_fleet(fleet_table, source, base_dir)
    step_tables = document.get("steps", [])
    if not isinstance(step_tables, list):
        raise ScenarioError(f"{source}: steps: must be an array of tables ([[steps]])")
    steps = tuple(
        _parse_step(table, number, source) for number, table in enumerate(step_tables, start=1)
    )
    return checked_scenario(Scenario(fleet, steps, source))


# ---- flags -----------------------------------------------------------------------------------


def scenario_from_flags(
    fleet: FleetSpec, *, plug_in: bool = False, tap_card: str | None = None
) -> Scenario:
    """The scenario of a run without a file: connect and boot; with ``--plug-in`` / ``--tap``,
    once a charger's BootNotification is Accepted, plug a car in and / or present the card."""
    steps: list[Step] = []
    if plug_in or tap_card is not None:
        steps.append(Step(len(steps) + 1, 0.0, Action.WAIT, state="Accepted"))
    if plug_in:
        steps.append(Step(len(steps) + 1, 0.0, Action.PLUG_IN))
    if tap_card is not None:
        card = _card(tap_card, "--tap")
        steps.append(Step(len(steps) + 1, 0.0, Action.TAP, card=card))
    return checked_scenario(Scenario(fleet, tuple(steps), "flags"))


def with_overrides(scenario: Scenario, **changes: Any) -> Scenario:
    """``scenario`` with fleet fields replaced by the flags given (None: not given), checked
    again: a ``--count`` smaller than a step's charger number is an error."""
    given = {key: value for key, value in changes.items() if value is not None}
    fleet = replace(scenario.fleet, **given)
    flagged = scenario.from_flags | frozenset(given)
    return checked_scenario(replace(scenario, fleet=fleet, from_flags=flagged))


# ---- checks ----------------------------------------------------------------------------------


def checked_scenario(scenario: Scenario) -> Scenario:
    """The rules across fields: the URL, the id pattern against the count, steps in time order,
    charger numbers and connectors within the fleet. Returns ``scenario``; ScenarioError."""
    source, fleet = scenario.source, scenario.fleet
    check_csms_url(fleet.csms_url, scenario.fleet_field("csms_url"))
    _whole(1, MAX_CHARGERS)(fleet.count, scenario.fleet_field("count"))
    if fleet.model not in MODEL_NAMES:
        raise ScenarioError(
            f"{scenario.fleet_field('model')}: {fleet.model!r} is not one of "
            f"{', '.join(MODEL_NAMES)}" + _did_you_mean(fleet.model, MODEL_NAMES)
        )
    _check_id_pattern(fleet, scenario.fleet_field("id_pattern"))
    previous_at = 0.0
    for step in scenario.steps:
        here = f"{source}: {step.describe()}"
        if step.at_s < previous_at:
            raise ScenarioError(
                f"{here}: at: {step.at_s:g} s comes before the {previous_at:g} s of the step "
                "above it; steps run in file order, so list them in time order"
            )
        previous_at = step.at_s
        if isinstance(step.chargers, tuple):
            beyond = [n for n in step.chargers if n > fleet.count]
            if beyond:
                raise ScenarioError(
                    f"{here}: chargers: {beyond[0]} is beyond the fleet of {fleet.count} "
                    f"({scenario.fleet_field('count')}; chargers are numbered 1 to "
                    f"{fleet.count})"
                )
        if step.connector_id > fleet.connectors:
            raise ScenarioError(
                f"{here}: connector: {step.connector_id}, but the chargers have "
                f"{fleet.connectors} connector{'s' if fleet.connectors > 1 else ''} "
                f"({scenario.fleet_field('connectors')})"
            )
    return scenario


def check_csms_url(url: str, where: str) -> str:
    """``ws://`` or ``wss://`` with a host; ScenarioError naming ``where`` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ScenarioError(f"{where}: {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise ScenarioError(
            f"{where}: {url!r} must start with ws:// or wss:// (e.g. {DEFAULT_CSMS_URL})"
        )
    if not parts.hostname:
        raise ScenarioError(f"{where}: {url!r} has no host (e.g. {DEFAULT_CSMS_URL})")
    if port == 0:
        raise ScenarioError(f"{where}: {url!r}: port 0 cannot be connected to")
    if parts.query or parts.fragment:
        raise ScenarioError(
            f"{where}: {url!r}: a charger appends its id to the path; no ?query or #fragment"
        )
    return url


def _check_id_pattern(fleet: FleetSpec, where: str) -> None:
    pattern = fleet.id_pattern
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise ScenarioError(f"{where}: {pattern!r}: {exc}") from None
    if fields != ["n"]:
        raise ScenarioError(
            f"{where}: {pattern!r} must hold the charger number once as {{n}} "
            f'(e.g. "{DEFAULT_ID_PATTERN}"), and no other {{field}}'
        )
    for n in sorted({1, fleet.count}):
        try:
            charge_point_id = pattern.format(n=n)
        except ValueError as exc:
            raise ScenarioError(f"{where}: {pattern!r}: {exc}") from None
        try:
            check_charge_point_id(charge_point_id)
        except HandshakeRefused as refused:
            raise ScenarioError(f"{where}: {pattern!r}: {refused.reason}") from None
    if fleet.count > 1 and pattern.format(n=1) == pattern.format(n=2):
        raise ScenarioError(f"{where}: {pattern!r} gives every charger the same id")


# ---- the [fleet] table -----------------------------------------------------------------------

_FLEET_KEYS = {
    "csms_url",
    "id_pattern",
    "count",
    "model",
    "password",
    "ca_file",
    "connectors",
    "meter_interval_s",
    "duration_s",
    "ramp_s",
    "ev",
}
_EV_KEYS = {"battery_kwh", "max_current_a", "phases", "start_soc"}


def _parse_fleet(table: dict[str, Any], source: str, base_dir: Path | None) -> FleetSpec:
    where = f"{source}: [fleet]"
    _no_unknown_keys(table, _FLEET_KEYS, where)
    defaults = FleetSpec()
    ca_file = _optional(table, "ca_file", _text, where)
    if ca_file is not None and base_dir is not None and not Path(ca_file).is_absolute():
        ca_file = str(base_dir / ca_file)
    ev_table = table.get("ev", {})
    if not isinstance(ev_table, dict):
        raise ScenarioError(f"{where} ev: must be a table ([fleet.ev])")
    return FleetSpec(
        csms_url=_optional(table, "csms_url", _text, where) or defaults.csms_url,
        id_pattern=_optional(table, "id_pattern", _text, where) or defaults.id_pattern,
        count=_optional(table, "count", _whole(1, MAX_CHARGERS), where) or defaults.count,
        model=_optional(table, "model", _text, where) or defaults.model,
        password=_optional(table, "password", _text, where),
        ca_file=ca_file,
        connectors=_optional(table, "connectors", _whole(1, MAX_CONNECTORS), where)
        or defaults.connectors,
        meter_interval_s=_optional(table, "meter_interval_s", _seconds(positive=True), where),
        ev=_parse_ev(ev_table, f"{source}: [fleet.ev]"),
        duration_s=_optional(table, "duration_s", _seconds(positive=True), where),
        ramp_s=_optional(table, "ramp_s", _seconds(positive=False), where) or 0.0,
    )


def _parse_ev(table: dict[str, Any], where: str) -> EvModel:
    _no_unknown_keys(table, _EV_KEYS, where)
    defaults = EvModel()
    battery = _optional(table, "battery_kwh", _number(0.0, 1000.0), where)
    current = _optional(table, "max_current_a", _number(0.0, 80.0), where)
    phases = _optional(table, "phases", _one_of(1, 3), where)
    start_soc = _optional(table, "start_soc", _fraction, where)
    return EvModel(
        battery_kwh=defaults.battery_kwh if battery is None else battery,
        max_current_a=defaults.max_current_a if current is None else current,
        phases=defaults.phases if phases is None else phases,
        start_soc=defaults.start_soc if start_soc is None else start_soc,
    )


# ---- a [[steps]] table -----------------------------------------------------------------------

_COMMON_STEP_KEYS = ("at", "action", "chargers", "connector", "every", "until")
_ACTION_KEYS: dict[Action, tuple[str, ...]] = {
    Action.PLUG_IN: _COMMON_STEP_KEYS,
    Action.TAP: (*_COMMON_STEP_KEYS, "card"),
    Action.UNPLUG: _COMMON_STEP_KEYS,
    Action.GO_OFFLINE: ("at", "action", "chargers", "every", "until"),
    Action.GO_ONLINE: ("at", "action", "chargers", "every", "until"),
    Action.FAULT: (*_COMMON_STEP_KEYS, "error_code"),
    Action.WAIT: ("at", "action", "chargers", "connector", "state", "timeout_s"),
}


def _parse_step(table: Any, number: int, source: str) -> Step:
    where = f"{source}: step {number}"
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: must be a table ([[steps]])")
    if "action" not in table:
        raise ScenarioError(f"{where}: action: missing; one of {_ACTIONS_TEXT}")
    action_text = table["action"]
    try:
        action = Action(action_text)
    except ValueError:
        raise ScenarioError(
            f"{where}: action: {action_text!r} is not one of {_ACTIONS_TEXT}"
            + _did_you_mean(action_text, [a.value for a in Action])
        ) from None
    allowed = _ACTION_KEYS[action]
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ScenarioError(
            f"{where} ({action.value}): {unknown[0]}: unknown field for {action.value} "
            f"(its fields: {', '.join(allowed)})" + _did_you_mean(unknown[0], allowed)
        )
    where = f"{source}: step {number} ({action.value})"
    if "at" not in table:
        raise ScenarioError(f"{where}: at: missing; seconds from the start of the run")
    at_s = _seconds(positive=False)(table["at"], f"{where}: at")
    every_s = _optional(table, "every", _seconds(positive=True), where + ":")
    until_s = _optional(table, "until", _seconds(positive=False), where + ":")
    if until_s is not None and every_s is None:
        raise ScenarioError(f"{where}: until: only goes with every (a step that repeats)")
    if until_s is not None and until_s < at_s:
        raise ScenarioError(f"{where}: until: {until_s:g} s is before at ({at_s:g} s)")
    step = Step(
        number=number,
        at_s=at_s,
        action=action,
        chargers=_chargers(table.get("chargers", "all"), f"{where}: chargers"),
        connector_id=_optional(table, "connector", _whole(1, MAX_CONNECTORS), where + ":") or 1,
        every_s=every_s,
        until_s=until_s,
    )
    if action is Action.TAP:
        if "card" not in table:
            raise ScenarioError(f'{where}: card: missing; the UID as printed, e.g. "04:A2:2B:1A"')
        card_text = _text(table["card"], f"{where}: card")
        step = replace(step, card=_card(card_text, f"{where}: card"))
    elif action is Action.FAULT and "error_code" in table:
        step = replace(step, error_code=_error_code(table["error_code"], f"{where}: error_code"))
    elif action is Action.WAIT:
        if "state" not in table:
            raise ScenarioError(f"{where}: state: missing; one of {', '.join(WAIT_STATES)}")
        state = table["state"]
        if state not in WAIT_STATES:
            raise ScenarioError(f"{where}: state: {state!r} is not one of {', '.join(WAIT_STATES)}")
        timeout = _optional(table, "timeout_s", _seconds(positive=True), where + ":")
        step = replace(step, state=state, timeout_s=timeout or DEFAULT_WAIT_TIMEOUT_S)
    return step


_ACTIONS_TEXT = ", ".join(action.value for action in Action)


def _chargers(value: Any, where: str) -> ChargerSelection:
    if value == "all":
        return "all"
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ScenarioError(f"{where}: {value} chargers; a count is at least 1")
        return value
    if isinstance(value, list) and value:
        numbers: list[int] = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise ScenarioError(
                    f"{where}: {item!r} is not a charger number (1 for the first charger)"
                )
            numbers.append(item)
        if len(set(numbers)) != len(numbers):
            raise ScenarioError(f"{where}: {value} names a charger twice")
        return tuple(numbers)
    raise ScenarioError(
        f'{where}: {value!r}; give "all", a count (the first N) or a list of charger numbers '
        "such as [1, 3]"
    )


def _card(text: str, where: str) -> str:
    try:
        return parse_printed_uid(text).printed
    except InvalidCardUid as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _error_code(value: Any, where: str) -> str:
    known = [
        code.value for code in ChargePointErrorCode if code is not ChargePointErrorCode.NO_ERROR
    ]
    if value not in known:
        raise ScenarioError(f"{where}: {value!r} is not one of {', '.join(known)}")
    return str(value)


# ---- field readers ---------------------------------------------------------------------------


def _no_unknown_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(
            f"{where} {unknown[0]}: unknown field (known: {', '.join(sorted(known))})"
            + _did_you_mean(unknown[0], sorted(known))
        )


def _did_you_mean(typed: Any, known: Any) -> str:
    if not isinstance(typed, str):
        return ""
    close = difflib.get_close_matches(typed, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _optional(table: Mapping[str, Any], key: str, read: Reader[T], where: str) -> T | None:
    if key not in table:
        return None
    return read(table[key], f"{where} {key}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: must be a non-empty string, not {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(low: int, high: int) -> Reader[int]:
    def read(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ScenarioError(
                f"{where}: must be a whole number from {low} to {high}, not {value!r}"
            )
        return value

    return read


def _number(low: float, high: float) -> Reader[float]:
    def read(value: Any, where: str) -> float:
        if not _is_number(value) or not low < value <= high:
            raise ScenarioError(
                f"{where}: must be a number above {low:g} up to {high:g}, not {value!r}"
            )
        return float(value)

    return read


def _one_of(*choices: int) -> Reader[int]:
    def read(value: Any, where: str) -> int:
        if isinstance(value, bool) or value not in choices:
            raise ScenarioError(
                f"{where}: must be {' or '.join(str(c) for c in choices)}, not {value!r}"
            )
        return int(value)

    return read


def _fraction(value: Any, where: str) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ScenarioError(f"{where}: must be a fraction from 0 to 1 (0.2 = 20 %), not {value!r}")
    return float(value)


def _seconds(*, positive: bool) -> Reader[float]:
    def read(value: Any, where: str) -> float:
        if not _is_number(value) or value < 0 or (positive and value == 0):
            kind = "more than 0" if positive else "0 or more"
            raise ScenarioError(f"{where}: must be a number of seconds, {kind}, not {value!r}")
        return float(value)

    return read
