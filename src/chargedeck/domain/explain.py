""" "Explain": a charger's logged OCPP frames told as a short story an owner can read.

A pure function over the frames of one charger, oldest first: each CALL is told once, with its
answer (a CALLRESULT or CALLERROR with the same message id, the other way: OCPP-J 1.6 §4.1.3).
Heartbeats are counted, not told; a run of MeterValues from one connector is one sentence.
The story is told from frames only: connections, disconnections and refused handshakes are not
frames and are not in it (they are in the events and the rejection list).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final

import msgspec

IN: Final = "in"
"""Charger -> CSMS."""
OUT: Final = "out"
"""CSMS -> charger."""
_CALL, _CALLRESULT, _CALLERROR = 2, 3, 4

# OCPP 1.6 status values that mean "no" (§7: AvailabilityStatus, ConfigurationStatus,
# RemoteStartStopStatus, ResetStatus, UnlockStatus, ChargingProfileStatus, ...).
_REFUSALS: Final = frozenset(
    {"Rejected", "NotSupported", "RebootRequired", "UnlockFailed", "NotImplemented", "Failed"}
)
# Chargers' CALLs told by their own sentence below; any other is told generically.
_QUIET: Final = frozenset({"Heartbeat"})
_DECODER: Final = msgspec.json.Decoder()


class LoggedFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One frame as the message log holds it."""

    at: datetime
    direction: str
    message_type: int
    message_id: str
    action: str | None
    frame: str


class Sentence(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the story: when it happened (the CALL's time) and what."""

    at: datetime
    text: str


def render(sentence: Sentence, zone: tzinfo) -> str:
    """``HH:MM:SS text`` in the operator's time zone."""
    return f"{sentence.at.astimezone(zone):%H:%M:%S} {sentence.text}"


@dataclass
class _Call:
    at: datetime
    action: str
    payload: dict[str, Any]


@dataclass
class _MeterRun:
    """Consecutive MeterValues of one connector, told as one sentence."""

    at: datetime
    connector_id: int
    messages: int
    first_wh: float | None
    last_wh: float | None


def _payload(frame: str) -> tuple[list[Any] | None, dict[str, Any]]:
    """The frame as a list and its payload object ({} when it has none or is not JSON)."""
    try:
        parts = _DECODER.decode(frame)
    except msgspec.DecodeError:
        return None, {}
    if not isinstance(parts, list):
        return None, {}
    payload = parts[-1] if parts and isinstance(parts[-1], dict) else {}
    return parts, payload


def _wh(value: Any) -> str:
    return f"{value:,} Wh" if isinstance(value, int) else f"{value} Wh"


def _energy_wh(payload: dict[str, Any]) -> float | None:
    """The last Energy.Active.Import.Register reading of a MeterValues.req, in Wh."""
    found: float | None = None
    values = payload.get("meterValue")
    if not isinstance(values, list):
        return None
    for meter_value in values:
        samples = meter_value.get("sampledValue") if isinstance(meter_value, dict) else None
        for sample in samples if isinstance(samples, list) else []:
            if not isinstance(sample, dict):
                continue
            measurand = sample.get("measurand", "Energy.Active.Import.Register")
            if measurand != "Energy.Active.Import.Register":
                continue
            try:
                value = float(sample.get("value", ""))
            except ValueError:
                continue
            # OCPP 1.6 §7.31 UnitOfMeasure: Wh by default, kWh allowed.
            found = value * 1000 if sample.get("unit") == "kWh" else value
    return found


def _status(answer: dict[str, Any]) -> str | None:
    status = answer.get("status")
    if status is None:
        info = answer.get("idTagInfo")
        status = info.get("status") if isinstance(info, dict) else None
    return status if isinstance(status, str) else None


class _Story:
    def __init__(self) -> None:
        self.sentences: list[Sentence] = []
        self.heartbeats = 0
        self.last_heartbeat_at: datetime | None = None
        self.meter_starts: dict[int, int] = {}
        self.meter_run: _MeterRun | None = None

    def say(self, at: datetime, text: str) -> None:
        self.end_meter_run()
        self.sentences.append(Sentence(at=at, text=text))

    def end_meter_run(self) -> None:
        run, self.meter_run = self.meter_run, None
        if run is None:
            return
        plural = "s" if run.messages > 1 else ""
        text = f"{run.messages} meter value message{plural} from connector {run.connector_id}"
        if run.first_wh is not None and run.last_wh is not None:
            text += f" (energy register {run.first_wh:,.0f} -> {run.last_wh:,.0f} Wh)"
        self.sentences.append(Sentence(at=run.at, text=text))

    def meter_values(self, call: _Call) -> None:
        connector_id = call.payload.get("connectorId", 0)
        energy = _energy_wh(call.payload)
        run = self.meter_run
        if run is None or run.connector_id != connector_id:
            self.end_meter_run()
            self.meter_run = _MeterRun(call.at, connector_id, 1, energy, energy)
            return
        run.messages += 1
        if energy is not None:
            run.first_wh = energy if run.first_wh is None else run.first_wh
            run.last_wh = energy

    def charger_call(self, call: _Call, answer: dict[str, Any]) -> None:
        """A CALL of the charger and ChargeDeck's CALLRESULT."""
        request, status = call.payload, _status(answer)
        action = call.action
        if action == "Heartbeat":
            self.heartbeats += 1
            self.last_heartbeat_at = call.at
        elif action == "MeterValues":
            self.meter_values(call)
        elif action == "BootNotification":
            firmware = request.get("firmwareVersion")
            described = f"{request.get('chargePointVendor')} {request.get('chargePointModel')}"
            if firmware:
                described += f", firmware {firmware}"
            self.say(call.at, f"booted ({described}), ChargeDeck answered {status}")
        elif action == "Authorize":
            self.say(call.at, f"card {request.get('idTag')} was {status}")
        elif action == "StartTransaction":
            transaction_id = answer.get("transactionId")
            meter_start = request.get("meterStart")
            if isinstance(transaction_id, int) and isinstance(meter_start, int):
                self.meter_starts[transaction_id] = meter_start
            self.say(
                call.at,
                f"card {request.get('idTag')} was {status}; transaction {transaction_id} "
                f"started on connector {request.get('connectorId')} at {_wh(meter_start)}",
            )
        elif action == "StopTransaction":
            transaction_id = request.get("transactionId")
            meter_stop = request.get("meterStop")
            text = (
                f"transaction {transaction_id} stopped ({request.get('reason', 'Local')}) "
                f"at {_wh(meter_stop)}"
            )
            meter_start = self.meter_starts.get(transaction_id)  # type: ignore[arg-type]
            if meter_start is not None and isinstance(meter_stop, int):
                text += f": {(meter_stop - meter_start) / 1000:.2f} kWh"
            self.say(call.at, text)
        elif action == "StatusNotification":
            text = f"connector {request.get('connectorId')} is {request.get('status')}"
            error_code = request.get("errorCode")
            if error_code and error_code != "NoError":
                text += f" with error {error_code}"
            details = [str(request[k]) for k in ("info", "vendorErrorCode") if request.get(k)]
            if details:
                text += f" ({', '.join(details)})"
            self.say(call.at, text)
        elif action in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
            self.say(call.at, f"{action}: {request.get('status')}")
        else:
            answered = f", ChargeDeck answered {status}" if status else ""
            self.say(call.at, f"sent {action}{answered}")

    def csms_call(self, call: _Call, answer: dict[str, Any]) -> None:
        """A CALL of ChargeDeck and the charger's CALLRESULT."""
        status = _status(answer)
        what = _describe_command(call)
        if status is None:
            self.say(call.at, f"ChargeDeck sent {what}; the charger answered")
        elif status in _REFUSALS:
            self.say(call.at, f"refused {what} ({status})")
        else:
            self.say(call.at, f"ChargeDeck sent {what}: {status}")

    def call_error(self, call: _Call, direction: str, parts: list[Any] | None) -> None:
        """A CALLERROR answering ``call``; ``direction`` is the CALLERROR's."""
        code = parts[2] if parts and len(parts) > 2 else "?"
        description = parts[3] if parts and len(parts) > 3 and parts[3] else ""
        detail = f": {description}" if description else ""
        if direction == OUT:
            self.say(call.at, f"ChargeDeck refused {call.action} with {code}{detail}")
        else:
            self.say(call.at, f"the charger answered {call.action} with error {code}{detail}")


def _describe_command(call: _Call) -> str:
    request = call.payload
    if call.action == "ChangeConfiguration":
        return f"ChangeConfiguration {request.get('key')}={request.get('value')}"
    if call.action in ("RemoteStartTransaction", "RemoteStopTransaction"):
        target = request.get("idTag") or request.get("transactionId")
        return f"{call.action} ({target})"
    if call.action == "SetChargingProfile":
        profile = request.get("csChargingProfiles")
        purpose = profile.get("chargingProfilePurpose") if isinstance(profile, dict) else None
        return f"SetChargingProfile ({purpose}, connector {request.get('connectorId')})"
    if call.action in ("ChangeAvailability", "UnlockConnector"):
        return f"{call.action} (connector {request.get('connectorId')})"
    if call.action == "Reset":
        return f"Reset ({request.get('type')})"
    if call.action == "TriggerMessage":
        return f"TriggerMessage ({request.get('requestedMessage')})"
    return call.action


def explain(frames: Iterable[LoggedFrame]) -> list[Sentence]:
    """The story of ``frames`` (one charger's, oldest first) in the order things happened."""
    story = _Story()
    pending: dict[tuple[str, str], _Call] = {}
    for frame in frames:
        parts, payload = _payload(frame.frame)
        if frame.message_type == _CALL and frame.action:
            pending[(frame.direction, frame.message_id)] = _Call(frame.at, frame.action, payload)
            continue
        if frame.message_type in (_CALLRESULT, _CALLERROR):
            call_direction = OUT if frame.direction == IN else IN
            call = pending.pop((call_direction, frame.message_id), None)
            if call is None:
                story.say(
                    frame.at,
                    f"{'the charger' if frame.direction == IN else 'ChargeDeck'} answered "
                    f"message {frame.message_id} whose CALL is not in the log",
                )
            elif frame.message_type == _CALLERROR:
                story.call_error(call, frame.direction, parts)
            elif call_direction == IN:
                story.charger_call(call, payload)
            else:
                story.csms_call(call, payload)
            continue
        who = "the charger" if frame.direction == IN else "ChargeDeck"
        story.say(frame.at, f"{who} sent a frame that is not OCPP-J: {frame.frame[:60]!r}")
    story.end_meter_run()
    for (direction, _), call in sorted(pending.items(), key=lambda item: item[1].at):
        if call.action in _QUIET:
            continue
        asker = "the charger" if direction == IN else "ChargeDeck"
        story.sentences.append(
            Sentence(at=call.at, text=f"{asker} sent {call.action}: no answer in the log")
        )
    story.sentences.sort(key=lambda sentence: sentence.at)
    if story.last_heartbeat_at is not None:
        plural = "s" if story.heartbeats > 1 else ""
        last = max([story.last_heartbeat_at, *(s.at for s in story.sentences[-1:])])
        story.sentences.append(
            Sentence(at=last, text=f"({story.heartbeats} heartbeat{plural} not shown)")
        )
    return story.sentences


def explain_lines(frames: Sequence[LoggedFrame], zone: tzinfo) -> list[str]:
    """The story as ``HH:MM:SS text`` lines (CLI and API ``lines``)."""
    return [render(sentence, zone) for sentence in explain(frames)]
