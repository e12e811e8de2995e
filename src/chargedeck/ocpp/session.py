"""One OCPP-J connection as a sans-I/O state machine (the h11 / aioquic pattern).

The I/O edge feeds received WebSocket messages to :meth:`OcppSession.receive_message` with the
current monotonic time, acts on the returned events, answers each received CALL with
:meth:`~OcppSession.send_call_result` or :meth:`~OcppSession.send_call_error`, writes
:meth:`~OcppSession.frames_to_send`, and calls :meth:`~OcppSession.handle_timers` at
:meth:`~OcppSession.next_deadline`. Nothing here reads a clock or touches a socket.

Rules implemented:

* OCPP-J 1.6 §4.1.1 synchronicity: at most one outstanding CALL per direction. Our further calls
  queue behind the outstanding one; each call's time-out starts when its frame is handed out.
* §4.2.3: malformed CALLs are answered with a CALLERROR; a CALL reusing an id that is still
  being handled or was just answered on this connection is a GenericError.
* §4.1.3: a message with an unknown MessageTypeNumber is ignored.
* A CALLRESULT or CALLERROR that matches none of our calls is ignored and reported.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

from chargedeck.ocpp import codec, framing
from chargedeck.ocpp.errors import (
    ActionNotImplemented,
    ActionNotSupported,
    CallErrorReceived,
    CallErrorSent,
    CallTimeout,
    FrameError,
    GenericError,
    InvalidResponse,
)
from chargedeck.ocpp.v16.actions import ACTION_BY_REQUEST_TYPE, ACTIONS, Action
from chargedeck.ocpp.v16.base import Message

# How many answered message ids are remembered per connection to catch reuse. Small on purpose:
# an idle connection must stay under 18 KB (DESIGN §4), and reuse only happens right after.
RECENT_MESSAGE_IDS = 8


class Role(enum.Enum):
    """Which end of the connection this session is."""

    CSMS = "csms"
    CHARGE_POINT = "charge_point"


@dataclass(eq=False)
class OutgoingCall:
    """A CALL we sent or queued; ``deadline`` is set when its frame is handed out."""

    message_id: str
    action: Action
    request: Message
    timeout_s: float
    deadline: float | None = None


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallReceived:
    """A valid CALL from the peer; answer it with send_call_result or send_call_error."""

    message_id: str
    action: Action
    request: Message


@dataclass(frozen=True, slots=True)
class CallRefused:
    """A CALL we refused; the CALLERROR is already queued. For the log."""

    message_id: str
    action_name: str | None
    error: CallErrorSent


@dataclass(frozen=True, slots=True)
class ResultReceived:
    call: OutgoingCall
    response: Message


@dataclass(frozen=True, slots=True)
class CallFailed:
    """One of our calls ended without a usable result: CALLERROR, invalid answer or time-out."""

    call: OutgoingCall
    error: CallErrorReceived | InvalidResponse | CallTimeout


@dataclass(frozen=True, slots=True)
class FrameIgnored:
    """A message we could not use and did not (or could not) answer. For the log."""

    reason: str


Event = CallReceived | CallRefused | ResultReceived | CallFailed | FrameIgnored


@dataclass(slots=True)
class OcppSession:
    """The protocol state of one connection, for either role."""

    role: Role
    call_timeout_s: float = 30.0
    _frames: list[bytes] = field(default_factory=list)
    _outstanding: OutgoingCall | None = None
    # Plain lists, not deques: an empty deque costs ~600 bytes per idle connection.
    _queued: list[OutgoingCall] = field(default_factory=list)
    _handling: list[str] = field(default_factory=list)
    _recent_ids: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- inbound ---------------------------------------------------------------------------

    def receive_message(self, data: bytes | str, now: float) -> list[Event]:
        """Feed one WebSocket text message; returns what happened."""
        try:
            frame = framing.parse_frame(data)
        except framing.MalformedCall as exc:
            return [self._refuse(exc.message_id, None, exc.error)]
        except framing.UnknownMessageType as exc:
            return [FrameIgnored(f"ignored: {exc.description} (OCPP-J 1.6 §4.1.3)")]
        except FrameError as exc:
            self._frames.append(
                framing.build_call_error(
                    framing.UNKNOWN_MESSAGE_ID, "FormationViolation", exc.description
                )
            )
            return [FrameIgnored(f"unusable frame answered with id -1: {exc.description}")]
        if isinstance(frame, framing.CallFrame):
            return [self._receive_call(frame)]
        return self._receive_answer(frame, now)

    def _receive_call(self, frame: framing.CallFrame) -> Event:
        message_id = frame.message_id
        if message_id in self._handling or message_id in self._recent_ids:
            # Do not register the id: the original CALL is still ours to answer.
            error = GenericError(f"message id {message_id!r} is already used on this connection")
            self._frames.append(
                framing.build_call_error(message_id, error.code, error.description, error.details)
            )
            return CallRefused(message_id, frame.action, error)
        action = ACTIONS.get(frame.action)
        if action is None:
            return self._refuse(
                message_id,
                frame.action,
                ActionNotImplemented(f"{frame.action[:64]!r} is not an OCPP 1.6 action"),
            )
        receivable = (
            action.sent_by_charge_point() if self.role is Role.CSMS else action.sent_by_csms()
        )
        if not receivable:
            sender = "a charge point" if self.role is Role.CSMS else "a CSMS"
            return self._refuse(
                message_id,
                frame.action,
                ActionNotSupported(f"{frame.action} is not sent by {sender} (OCPP 1.6 §3.3)"),
            )
        try:
            request = codec.decode_request(action, frame.payload)
        except CallErrorSent as error:
            return self._refuse(message_id, frame.action, error)
        self._handling.append(message_id)
        return CallReceived(message_id, action, request)

    def _refuse(self, message_id: str, action_name: str | None, error: CallErrorSent) -> Event:
        self._frames.append(
            framing.build_call_error(message_id, error.code, error.description, error.details)
        )
        self._remember(message_id)
        return CallRefused(message_id, action_name, error)

    def _receive_answer(
        self, frame: framing.CallResultFrame | framing.CallErrorFrame, now: float
    ) -> list[Event]:
        call = self._outstanding
        if call is None or call.message_id != frame.message_id:
            kind = "CALLRESULT" if isinstance(frame, framing.CallResultFrame) else "CALLERROR"
            return [FrameIgnored(f"{kind} for unknown message id {frame.message_id!r} ignored")]
        self._outstanding = None
        event: Event
        if isinstance(frame, framing.CallResultFrame):
            try:
                response = codec.decode_response(call.action, frame.payload)
            except InvalidResponse as error:
                event = CallFailed(call, error)
            else:
                event = ResultReceived(call, response)
        else:
            event = CallFailed(
                call,
                CallErrorReceived(
                    call.action.name,
                    frame.error_code,
                    frame.error_description,
                    frame.error_details,
                ),
            )
        self._send_next(now)
        return [event]

    # ---- answering CALLs ---------------------------------------------------------------------

    def send_call_result(self, message_id: str, response: Message) -> None:
        """Answer a received CALL."""
        self._finish_handling(message_id)
        self._frames.append(framing.build_call_result(message_id, response))

    def send_call_error(self, message_id: str, error: CallErrorSent) -> None:
        """Refuse a received CALL with its CallError code and sentence."""
        self._finish_handling(message_id)
        self._frames.append(
            framing.build_call_error(message_id, error.code, error.description, error.details)
        )

    def _finish_handling(self, message_id: str) -> None:
        try:
            self._handling.remove(message_id)
        except KeyError:
            raise ValueError(
                f"message id {message_id!r} is not a CALL awaiting an answer"
            ) from None
        self._remember(message_id)

    def _remember(self, message_id: str) -> None:
        recent = self._recent_ids
        recent.append(message_id)
        if len(recent) > RECENT_MESSAGE_IDS:
            del recent[0]

    # ---- our CALLs ---------------------------------------------------------------------------

    def send_call(
        self, request: Message, now: float, timeout_s: float | None = None
    ) -> OutgoingCall:
        """Queue a CALL; it goes out at once if no other call of ours is outstanding."""
        action = ACTION_BY_REQUEST_TYPE[type(request)]
        sendable = (
            action.sent_by_csms() if self.role is Role.CSMS else action.sent_by_charge_point()
        )
        if not sendable:
            raise ValueError(f"a {self.role.value} does not send {action.name} (OCPP 1.6 §3.3)")
        call = OutgoingCall(
            message_id=str(next(self._ids)),
            action=action,
            request=request,
            timeout_s=self.call_timeout_s if timeout_s is None else timeout_s,
        )
        self._queued.append(call)
        if self._outstanding is None:
            self._send_next(now)
        return call

    def cancel_call(self, call: OutgoingCall) -> bool:
        """Drop a call that is still queued (not yet sent); True if it was removed."""
        try:
            self._queued.remove(call)
        except ValueError:
            return False
        return True

    def _send_next(self, now: float) -> None:
        if self._outstanding is not None or not self._queued:
            return
        call = self._queued.pop(0)
        call.deadline = now + call.timeout_s
        self._outstanding = call
        self._frames.append(framing.build_call(call.message_id, call.action.name, call.request))

    # ---- time and output ---------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When handle_timers must next be called, or None."""
        return None if self._outstanding is None else self._outstanding.deadline

    def handle_timers(self, now: float) -> list[Event]:
        """Expire the outstanding call if its deadline passed, and send the next one."""
        call = self._outstanding
        if call is None or call.deadline is None or now < call.deadline:
            return []
        self._outstanding = None
        self._send_next(now)
        return [CallFailed(call, CallTimeout(call.action.name, call.message_id, call.timeout_s))]

    def frames_to_send(self) -> list[bytes]:
        """Take the encoded frames produced so far, in order."""
        frames, self._frames = self._frames, []
        return frames
