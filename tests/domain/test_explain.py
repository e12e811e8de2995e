""" "Explain" tells a charger's logged frames as sentences: each CALL once, with its answer
(OCPP-J 1.6 §4.1.3: a CALLRESULT/CALLERROR has the CALL's message id and goes the other way)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from chargedeck.domain.explain import LoggedFrame, explain, explain_lines

T0 = datetime(2026, 3, 2, 8, 1, 2, tzinfo=UTC)


class Frames:
    """Builds a log: ``call`` from either side, answered by ``result`` or ``error``."""

    def __init__(self) -> None:
        self.frames: list[LoggedFrame] = []
        self._next = 0
        self.at = T0

    def _add(self, direction: str, message_type: int, message_id: str, action: str | None,
             body: list[object]) -> None:  # fmt: skip
        self.frames.append(
            LoggedFrame(
                at=self.at,
                direction=direction,
                message_type=message_type,
                message_id=message_id,
                action=action,
                frame=msgspec.json.encode(body).decode(),
            )
        )

    def exchange(
        self, direction: str, action: str, request: dict[str, object], answer: dict[str, object]
    ) -> None:
        self._next += 1
        message_id = f"m{self._next}"
        self._add(direction, 2, message_id, action, [2, message_id, action, request])
        other = "out" if direction == "in" else "in"
        self._add(other, 3, message_id, action, [3, message_id, answer])

    def refused(self, direction: str, action: str, code: str, description: str) -> None:
        self._next += 1
        message_id = f"m{self._next}"
        self._add(direction, 2, message_id, action, [2, message_id, action, {}])
        other = "out" if direction == "in" else "in"
        self._add(other, 4, message_id, action, [4, message_id, code, description, {}])

    def later(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def texts(frames: Frames) -> list[str]:
    return [sentence.text for sentence in explain(frames.frames)]


def meter_values(connector_id: int, wh: int) -> dict[str, object]:
    return {
        "connectorId": connector_id,
        "meterValue": [{"timestamp": "x", "sampledValue": [{"value": str(wh)}]}],
    }


def test_a_boot_start_and_stop_read_as_a_story() -> None:
    log = Frames()
    log.exchange(
        "in",
        "BootNotification",
        {
            "chargePointVendor": "Wallbox",
            "chargePointModel": "Pulsar Plus",
            "firmwareVersion": "5.5.10",
        },
        {"status": "Accepted", "currentTime": "x", "interval": 300},
    )
    log.later(minutes=2, seconds=8)
    log.exchange(
        "in",
        "StartTransaction",
        {"connectorId": 1, "idTag": "04A2B3C4", "meterStart": 1234, "timestamp": "x"},
        {"idTagInfo": {"status": "Accepted"}, "transactionId": 17},
    )
    log.later(minutes=36, seconds=50)
    log.exchange(
        "in",
        "StopTransaction",
        {"transactionId": 17, "meterStop": 12500, "reason": "EVDisconnected", "timestamp": "x"},
        {"idTagInfo": {"status": "Accepted"}},
    )

    assert explain_lines(log.frames, ZoneInfo("UTC")) == [
        "08:01:02 booted (Wallbox Pulsar Plus, firmware 5.5.10), ChargeDeck answered Accepted",
        "08:03:10 card 04A2B3C4 was Accepted; transaction 17 started on connector 1 at 1,234 Wh",
        "08:40:00 transaction 17 stopped (EVDisconnected) at 12,500 Wh: 11.27 kWh",
    ]


def test_times_are_shown_in_the_operators_zone() -> None:
    log = Frames()
    log.exchange("in", "Authorize", {"idTag": "CARD"}, {"idTagInfo": {"status": "Invalid"}})

    assert explain_lines(log.frames, ZoneInfo("Europe/Madrid")) == [
        "09:01:02 card CARD was Invalid"
    ]


def test_a_refused_command_and_call_errors_both_ways_are_told() -> None:
    log = Frames()
    log.exchange(
        "out", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"},
        {"status": "Rejected"},
    )  # fmt: skip
    log.refused("in", "DataTransfer", "NotSupported", "no vendor data")
    log.refused("out", "GetDiagnostics", "InternalError", "")

    assert texts(log) == [
        "refused ChangeConfiguration MeterValueSampleInterval=1 (Rejected)",
        "ChargeDeck refused DataTransfer with NotSupported: no vendor data",
        "the charger answered GetDiagnostics with error InternalError",
    ]


def test_heartbeats_are_counted_and_meter_values_of_a_connector_merged() -> None:
    log = Frames()
    for wh in (1000, 1500, 2100):
        log.exchange("in", "MeterValues", meter_values(1, wh), {})
        log.exchange("in", "Heartbeat", {}, {"currentTime": "x"})
        log.later(minutes=1)
    log.exchange(
        "in", "StatusNotification",
        {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure", "info": "RCD"}, {},
    )  # fmt: skip

    assert texts(log) == [
        "3 meter value messages from connector 1 (energy register 1,000 -> 2,100 Wh)",
        "connector 1 is Faulted with error GroundFailure (RCD)",
        "(3 heartbeats not shown)",
    ]


def test_an_unanswered_call_and_a_stray_answer_are_pointed_out() -> None:
    log = Frames()
    log._add("out", 2, "r1", "Reset", [2, "r1", "Reset", {"type": "Soft"}])
    log._add("in", 3, "zz", None, [3, "zz", {}])
    log._add("in", 0, "", None, ["not", "ocpp"])

    assert texts(log) == [
        "the charger answered message zz whose CALL is not in the log",
        'the charger sent a frame that is not OCPP-J: \'["not","ocpp"]\'',
        "ChargeDeck sent Reset: no answer in the log",
    ]


def test_garbage_frames_never_raise() -> None:
    frames = [
        LoggedFrame(at=T0, direction="in", message_type=2, message_id="1", action="StopTransaction",
                    frame='[2,"1","StopTransaction",{"meterStop":"many"}]'),
        LoggedFrame(at=T0, direction="out", message_type=3, message_id="1", action=None,
                    frame='[3,"1",[]]'),
        LoggedFrame(at=T0, direction="in", message_type=2, message_id="2", action="MeterValues",
                    frame='[2,"2","MeterValues",{"meterValue":[1,{"sampledValue":"x"}]}]'),
        LoggedFrame(at=T0, direction="out", message_type=3, message_id="2", action=None,
                    frame="{"),
    ]  # fmt: skip

    assert texts_of(frames) == [
        "transaction None stopped (Local) at many Wh",
        "1 meter value message from connector 0",
    ]


def texts_of(frames: list[LoggedFrame]) -> list[str]:
    return [sentence.text for sentence in explain(frames)]
