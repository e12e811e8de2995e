"""The OCPP-J session rules, with a CSMS session and a charger session joined in memory."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.session import (
    CallFailed,
    CallReceived,
    CallRefused,
    FrameIgnored,
    OcppSession,
    ResultReceived,
    Role,
)
from chargedeck.ocpp.v16.core import (
    BootNotificationRequest,
    BootNotificationResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    ResetRequest,
    ResetResponse,
)
from chargedeck.ocpp.v16.enums import RegistrationStatus, ResetStatus, ResetType
from tests.support.pair import SessionPair

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOOT = BootNotificationRequest(charge_point_vendor="Wall Box Chargers", charge_point_model="PLP1")


def decode(frame: bytes) -> list[object]:
    return msgspec.json.decode(frame)  # type: ignore[no-any-return]


def answer_with_raw(session: OcppSession, data: str) -> list[object]:
    events = session.receive_message(data, 0.0)
    assert len(events) == 1
    return [events[0], *[decode(f) for f in session.frames_to_send()]]


def test_a_charger_call_reaches_the_csms_typed_and_its_answer_comes_back() -> None:
    pair = SessionPair()
    call = pair.charger.send_call(BOOT, pair.now)
    [received] = pair.to_csms()
    assert isinstance(received, CallReceived)
    assert received.request == BOOT
    assert received.action.name == "BootNotification"
    answer = BootNotificationResponse(
        status=RegistrationStatus.ACCEPTED, current_time=NOW, interval=300
    )
    pair.csms.send_call_result(received.message_id, answer)
    [result] = pair.to_charger()
    assert isinstance(result, ResultReceived)
    assert result.call is call
    assert result.response == answer


def test_only_one_call_per_direction_is_outstanding_the_rest_queue() -> None:
    pair = SessionPair()
    pair.csms.send_call(ResetRequest(type=ResetType.SOFT), pair.now)
    second = pair.csms.send_call(ResetRequest(type=ResetType.HARD), pair.now)
    [first_received] = pair.to_charger()
    assert isinstance(first_received, CallReceived)
    assert pair.to_charger() == []  # nothing more went out while the first is unanswered
    pair.charger.send_call_result(
        first_received.message_id, ResetResponse(status=ResetStatus.ACCEPTED)
    )
    assert isinstance(pair.to_csms()[0], ResultReceived)
    [second_received] = pair.to_charger()
    assert isinstance(second_received, CallReceived)
    assert second_received.message_id == second.message_id


def test_calls_in_both_directions_may_cross() -> None:
    pair = SessionPair()
    pair.csms.send_call(ResetRequest(type=ResetType.SOFT), pair.now)
    pair.charger.send_call(HeartbeatRequest(), pair.now)
    [reset] = pair.to_charger()
    [heartbeat] = pair.to_csms()
    assert isinstance(reset, CallReceived)
    assert isinstance(heartbeat, CallReceived)
    pair.csms.send_call_result(heartbeat.message_id, HeartbeatResponse(current_time=NOW))
    pair.charger.send_call_result(reset.message_id, ResetResponse(status=ResetStatus.ACCEPTED))
    assert isinstance(pair.to_charger()[0], ResultReceived)
    assert isinstance(pair.to_csms()[0], ResultReceived)


def test_an_unanswered_call_times_out_and_the_next_queued_call_goes_out() -> None:
    pair = SessionPair()
    first = pair.csms.send_call(ResetRequest(type=ResetType.SOFT), pair.now)
    pair.csms.send_call(ResetRequest(type=ResetType.HARD), pair.now)
    pair.to_charger()
    assert pair.csms.next_deadline() == pair.now + 30
    csms_events, _ = pair.advance(29.9)
    assert csms_events == []
    csms_events, _ = pair.advance(0.2)
    [timed_out] = csms_events
    assert isinstance(timed_out, CallFailed)
    assert timed_out.call is first
    assert isinstance(timed_out.error, CallTimeout)
    [second] = pair.to_charger()
    assert isinstance(second, CallReceived)
    assert second.request == ResetRequest(type=ResetType.HARD)


def test_an_answer_after_the_time_out_is_ignored() -> None:
    pair = SessionPair()
    pair.csms.send_call(ResetRequest(type=ResetType.SOFT), pair.now)
    [received] = pair.to_charger()
    assert isinstance(received, CallReceived)
    pair.advance(31)
    pair.charger.send_call_result(received.message_id, ResetResponse(status=ResetStatus.ACCEPTED))
    [late] = pair.to_csms()
    assert isinstance(late, FrameIgnored)
    assert "unknown message id" in late.reason


def test_a_callerror_answer_fails_the_call_with_the_code_as_sent() -> None:
    session = OcppSession(Role.CSMS)
    call = session.send_call(ResetRequest(type=ResetType.SOFT), 0.0)
    session.frames_to_send()
    # ocpp-rpc sends 2.0.1 codes even on 1.6: any code string is accepted from a peer.
    frame = f'[4,"{call.message_id}","RpcFrameworkError","bad",{{}}]'
    [failed] = session.receive_message(frame, 1.0)
    assert isinstance(failed, CallFailed)
    assert isinstance(failed.error, CallErrorReceived)
    assert failed.error.code == "RpcFrameworkError"


def test_an_invalid_answer_payload_fails_the_call() -> None:
    session = OcppSession(Role.CSMS)
    call = session.send_call(ResetRequest(type=ResetType.SOFT), 0.0)
    session.frames_to_send()
    [failed] = session.receive_message(f'[3,"{call.message_id}",{{"status":"Maybe"}}]', 1.0)
    assert isinstance(failed, CallFailed)
    assert isinstance(failed.error, InvalidResponse)


def test_an_unknown_action_is_answered_not_implemented() -> None:
    event, answer = answer_with_raw(OcppSession(Role.CSMS), '[2,"7","FlyToTheMoon",{}]')
    assert isinstance(event, CallRefused)
    assert answer[:3] == [4, "7", "NotImplemented"]


def test_a_csms_action_sent_to_the_csms_is_answered_not_supported() -> None:
    event, answer = answer_with_raw(OcppSession(Role.CSMS), '[2,"7","Reset",{"type":"Soft"}]')
    assert isinstance(event, CallRefused)
    assert answer[:3] == [4, "7", "NotSupported"]


def test_a_charger_action_sent_to_a_charger_is_answered_not_supported() -> None:
    _, answer = answer_with_raw(OcppSession(Role.CHARGE_POINT), '[2,"7","Heartbeat",{}]')
    assert answer[:3] == [4, "7", "NotSupported"]


def test_a_null_payload_is_an_empty_object() -> None:
    [event] = OcppSession(Role.CSMS).receive_message('[2,"h1","Heartbeat",null]', 0.0)
    assert isinstance(event, CallReceived)
    assert event.request == HeartbeatRequest()


def test_a_message_id_in_flight_cannot_be_used_again() -> None:
    session = OcppSession(Role.CSMS)
    [first] = session.receive_message('[2,"dup","Heartbeat",{}]', 0.0)
    assert isinstance(first, CallReceived)
    event, answer = answer_with_raw(session, '[2,"dup","Heartbeat",{}]')
    assert isinstance(event, CallRefused)
    assert answer[:3] == [4, "dup", "GenericError"]
    # The original CALL is still ours to answer.
    session.send_call_result("dup", HeartbeatResponse(current_time=NOW))
    assert decode(session.frames_to_send()[0])[:2] == [3, "dup"]


def test_a_message_id_just_answered_cannot_be_reused() -> None:
    session = OcppSession(Role.CSMS)
    session.receive_message('[2,"a","Heartbeat",{}]', 0.0)
    session.send_call_result("a", HeartbeatResponse(current_time=NOW))
    session.frames_to_send()
    _, answer = answer_with_raw(session, '[2,"a","Heartbeat",{}]')
    assert answer[:3] == [4, "a", "GenericError"]


def test_a_message_id_longer_than_36_characters_is_a_formation_violation() -> None:
    long_id = "x" * 37
    _, answer = answer_with_raw(OcppSession(Role.CSMS), f'[2,"{long_id}","Heartbeat",{{}}]')
    assert answer[:3] == [4, long_id, "FormationViolation"]


def test_a_call_with_a_missing_element_is_a_formation_violation() -> None:
    _, answer = answer_with_raw(OcppSession(Role.CSMS), '[2,"m","Heartbeat"]')
    assert answer[:3] == [4, "m", "FormationViolation"]


def test_invalid_json_is_answered_with_id_minus_one() -> None:
    event, answer = answer_with_raw(OcppSession(Role.CSMS), '[2,"x","Heartbeat",{')
    assert isinstance(event, FrameIgnored)
    assert answer[:3] == [4, "-1", "FormationViolation"]


def test_an_unknown_message_type_is_ignored_without_an_answer() -> None:
    session = OcppSession(Role.CSMS)
    [event] = session.receive_message('[5,"x","Heartbeat",{}]', 0.0)
    assert isinstance(event, FrameIgnored)
    assert session.frames_to_send() == []


def test_a_result_for_an_unknown_id_is_ignored_without_an_answer() -> None:
    session = OcppSession(Role.CSMS)
    [event] = session.receive_message('[3,"nobody","{}"]', 0.0)
    assert isinstance(event, FrameIgnored)
    assert session.frames_to_send() == []


def test_invalid_payloads_get_the_mapped_error_code_with_the_callers_id() -> None:
    _, answer = answer_with_raw(
        OcppSession(Role.CSMS), '[2,"s","StartTransaction",{"connectorId":1}]'
    )
    assert answer[:3] == [4, "s", "OccurenceConstraintViolation"]
    assert "idTag" in str(answer[3])


def test_a_session_refuses_to_send_an_action_of_the_other_side() -> None:
    with pytest.raises(ValueError, match="does not send BootNotification"):
        OcppSession(Role.CSMS).send_call(BOOT, 0.0)


def test_errordetails_is_always_an_object() -> None:
    _, answer = answer_with_raw(OcppSession(Role.CSMS), '[2,"7","FlyToTheMoon",{}]')
    assert answer[4] == {}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_produces_events(text: str) -> None:
    session = OcppSession(Role.CSMS)
    events = session.receive_message(text, 0.0)
    assert all(
        isinstance(e, CallReceived | CallRefused | FrameIgnored | ResultReceived | CallFailed)
        for e in events
    )
    for frame in session.frames_to_send():
        assert decode(frame)[0] == 4


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([2, 3, 4, 5]),
    st.text(max_size=40),
    st.sampled_from(["Heartbeat", "BootNotification", "MeterValues", "StartTransaction", "X"]),
    json_values,
)
def test_arbitrary_json_frames_only_produce_events(
    message_type: int, message_id: str, action: str, payload: object
) -> None:
    session = OcppSession(Role.CSMS)
    frame = msgspec.json.encode([message_type, message_id, action, payload])
    events = session.receive_message(frame, 0.0)
    assert len(events) == 1
