"""OCPP-J 1.6 §4 RPC framing: parse and build CALL, CALLRESULT and CALLERROR frames.

A frame is a JSON array. The envelope is split once with ``msgspec.Raw`` elements so the payload
is never decoded twice: the payload bytes go straight to the action's typed decoder.

* CALL        ``[2, "<uniqueId>", "<Action>", {payload}]``
* CALLRESULT  ``[3, "<uniqueId>", {payload}]``
* CALLERROR   ``[4, "<uniqueId>", "<errorCode>", "<errorDescription>", {errorDetails}]``
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import msgspec

from chargedeck.ocpp.errors import CallErrorSent, FormationViolation, FrameError

# OCPP-J 1.6 §4.1.4: the unique id is a string of at most 36 characters.
MAX_MESSAGE_ID_LENGTH = 36

# Answer id for a frame whose id cannot be read (the convention OCPP 2.0.1 §4.2.3 made explicit).
UNKNOWN_MESSAGE_ID = "-1"


class MessageType(enum.IntEnum):
    """OCPP-J 1.6 §4.1.3 MessageTypeNumber."""

    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4


@dataclass(frozen=True, slots=True)
class CallFrame:
    message_id: str
    action: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class CallResultFrame:
    message_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class CallErrorFrame:
    message_id: str
    error_code: str
    error_description: str
    error_details: Any


Frame = CallFrame | CallResultFrame | CallErrorFrame


class MalformedCall(FrameError):
    """A CALL whose id could be read but whose shape is wrong: answerable with a CALLERROR."""

    def __init__(self, message_id: str, error: CallErrorSent) -> None:
        super().__init__(error.description)
        self.message_id = message_id
        self.error = error


class UnknownMessageType(FrameError):
    """OCPP-J 1.6 §4.1.3: a receiver SHALL ignore a message with an unknown MessageTypeNumber."""


_envelope_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_str_decoder = msgspec.json.Decoder(str)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

_TYPE_BY_RAW = {b"2": MessageType.CALL, b"3": MessageType.CALL_RESULT, b"4": MessageType.CALL_ERROR}
_ELEMENT_COUNT = {MessageType.CALL: 4, MessageType.CALL_RESULT: 3, MessageType.CALL_ERROR: 5}


def _decode_str(raw: msgspec.Raw) -> str | None:
    try:
        return _str_decoder.decode(raw)
    except msgspec.DecodeError:  # ValidationError is a DecodeError subclass
        return None


def parse_frame(data: bytes | str) -> Frame:
    """Split one WebSocket text message into a frame.

    Raises :class:`MalformedCall` (answer with a CALLERROR carrying its id),
    :class:`UnknownMessageType` (ignore) or :class:`FrameError` (no usable id).
    """
    try:
        elements = _envelope_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise FrameError(f"frame is not a JSON array: {exc}") from None
    except msgspec.DecodeError as exc:
        raise FrameError(f"frame is not valid JSON: {exc}") from None
    if len(elements) < 3:
        raise FrameError(f"frame has {len(elements)} elements; OCPP-J frames have 3 to 5")
    message_type = _TYPE_BY_RAW.get(bytes(elements[0]))
    message_id = _decode_str(elements[1])
    if message_type is None:
        raise UnknownMessageType(
            f"unknown MessageTypeNumber {bytes(elements[0]).decode(errors='replace')[:16]}"
        )
    if message_id is None:
        raise FrameError(f"{message_type.name} frame has a message id that is not a string")
    if message_type is MessageType.CALL:
        return _parse_call(message_id, elements)
    if len(elements) != _ELEMENT_COUNT[message_type]:
        raise FrameError(
            f"{message_type.name} frame {message_id!r} has {len(elements)} elements, "
            f"expected {_ELEMENT_COUNT[message_type]}"
        )
    if message_type is MessageType.CALL_RESULT:
        return CallResultFrame(message_id, bytes(elements[2]))
    code = _decode_str(elements[2])
    description = _decode_str(elements[3])
    if code is None or description is None:
        raise FrameError(f"CALLERROR frame {message_id!r} has a non-string code or description")
    return CallErrorFrame(message_id, code, description, _any_decoder.decode(elements[4]))


def _parse_call(message_id: str, elements: list[msgspec.Raw]) -> CallFrame:
    if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise MalformedCall(
            message_id,
            FormationViolation(
                f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters, got {len(message_id)}"
            ),
        )
    if len(elements) != _ELEMENT_COUNT[MessageType.CALL]:
        raise MalformedCall(
            message_id,
            FormationViolation(f"CALL frame has {len(elements)} elements, expected 4"),
        )
    action = _decode_str(elements[2])
    if action is None:
        raise MalformedCall(message_id, FormationViolation("CALL action is not a string"))
    return CallFrame(message_id, action, bytes(elements[3]))


def build_call(message_id: str, action: str, payload: Any) -> bytes:
    """Encode a CALL; ``payload`` is a Message Struct (or a plain mapping)."""
    return _encoder.encode((MessageType.CALL.value, message_id, action, payload))


def build_call_result(message_id: str, payload: Any) -> bytes:
    """Encode a CALLRESULT."""
    return _encoder.encode((MessageType.CALL_RESULT.value, message_id, payload))


def build_call_error(
    message_id: str, code: str, description: str, details: dict[str, Any] | None = None
) -> bytes:
    """Encode a CALLERROR; errorDetails is always an object, ``{}`` when empty (§4.2.3)."""
    return _encoder.encode(
        (MessageType.CALL_ERROR.value, message_id, code, description, details or {})
    )
