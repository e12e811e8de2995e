"""Protocol errors with their wire meaning (OCPP-J 1.6 §4.2.3, Table 7).

Two families, never mixed (STYLE rule 3):

* :class:`CallErrorSent` subclasses are *the peer's* mistakes that we answer with a CALLERROR
  frame. Each class knows the one 1.6 error code it maps to and carries a sentence that says
  what was wrong; the sentence goes into ``errorDescription`` and into the log.
* :class:`FrameError` is a frame we cannot even answer (no usable message id), and
  :class:`CallErrorReceived` is the peer's CALLERROR answer to one of *our* calls.

The 1.6 spellings are ``FormationViolation`` and ``OccurenceConstraintViolation`` (one "r"):
the 1.6 errata keep them as a known issue that will not be fixed. We only ever *send* the ten
1.6 codes, but accept any code string in a received CALLERROR, because peers such as ocpp-rpc
send 2.0.1 codes even on 1.6 (see shared/reference/ocpp16-facts-and-peers.md §1.1).
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class ErrorCode(enum.StrEnum):
    """The ten CallError codes of OCPP-J 1.6 Table 7, with their 1.6 wire spelling."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class OcppError(Exception):
    """Base of every error raised by the protocol core."""


class CallErrorSent(OcppError):
    """A peer's CALL we refuse with a CALLERROR; subclasses fix the code.

    ``description`` is the sentence sent as ``errorDescription`` and logged; ``details`` becomes
    ``errorDetails`` (always an object on the wire, OCPP-J §4.2.3).
    """

    code: ClassVar[ErrorCode] = ErrorCode.GENERIC_ERROR

    def __init__(self, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.details: dict[str, Any] = details or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}: {self.description})"


class ActionNotImplemented(CallErrorSent):
    """The action name is not an OCPP 1.6 (or 1.6 security extension) action."""

    code = ErrorCode.NOT_IMPLEMENTED


class ActionNotSupported(CallErrorSent):
    """A known action this side does not serve, e.g. a CSMS-to-charger action sent to the CSMS."""

    code = ErrorCode.NOT_SUPPORTED


class InternalError(CallErrorSent):
    """We failed while handling a valid CALL (store down, bug); no stack trace leaves us."""

    code = ErrorCode.INTERNAL_ERROR


class ProtocolError(CallErrorSent):
    """The payload is incomplete for the action (Table 7)."""

    code = ErrorCode.PROTOCOL_ERROR


class SecurityError(CallErrorSent):
    """The CALL is not allowed in the connection's current state (e.g. before adoption)."""

    code = ErrorCode.SECURITY_ERROR


class FormationViolation(CallErrorSent):
    """The frame or payload is syntactically wrong or not the PDU's structure."""

    code = ErrorCode.FORMATION_VIOLATION


class PropertyConstraintViolation(CallErrorSent):
    """A field holds a value outside what its type allows (enum, range, multiple)."""

    code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


class OccurenceConstraintViolation(CallErrorSent):
    """A required field is missing or an array has too few / too many items."""

    code = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION


class TypeConstraintViolation(CallErrorSent):
    """A field has the wrong JSON type, or a string exceeds its CiString/format type."""

    code = ErrorCode.TYPE_CONSTRAINT_VIOLATION


class GenericError(CallErrorSent):
    """Anything not covered by the other codes, e.g. a reused message id (OCPP-J §4.1.3)."""

    code = ErrorCode.GENERIC_ERROR


ERROR_CLASS_BY_CODE: dict[ErrorCode, type[CallErrorSent]] = {
    cls.code: cls
    for cls in (
        ActionNotImplemented,
        ActionNotSupported,
        InternalError,
        ProtocolError,
        SecurityError,
        FormationViolation,
        PropertyConstraintViolation,
        OccurenceConstraintViolation,
        TypeConstraintViolation,
        GenericError,
    )
}


class FrameError(OcppError):
    """A frame that cannot be matched to a message id: not JSON, not an array, unknown type.

    It is logged; where the spec allows an answer, a CALLERROR with message id ``"-1"`` is sent
    (the convention OCPP 2.0.1 §4.2.3 made explicit for unparsable frames).
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class CallErrorReceived(OcppError):
    """The peer answered one of our CALLs with a CALLERROR. The code is kept as sent."""

    def __init__(self, action: str, code: str, description: str, details: Any) -> None:
        super().__init__(f"{action} answered with CALLERROR {code}: {description}")
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class CallTimeout(OcppError):
    """The peer did not answer one of our CALLs within its time-out."""

    def __init__(self, action: str, message_id: str, timeout_s: float) -> None:
        super().__init__(f"{action} (message id {message_id}) got no answer within {timeout_s:g} s")
        self.action = action
        self.message_id = message_id
        self.timeout_s = timeout_s


class InvalidResponse(OcppError):
    """The peer's CALLRESULT payload does not match the action's response type."""

    def __init__(self, action: str, description: str) -> None:
        super().__init__(f"{action} answer is invalid: {description}")
        self.action = action
        self.description = description
