"""The WebSocket opening handshake rules of OCPP-J 1.6 §3, without I/O.

The edge calls :func:`parse_charge_point_id` with the request path and
:func:`choose_subprotocol` with the offered subprotocols, and turns a :class:`HandshakeRefused`
into an HTTP answer whose status and reason also reach the log.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

OCPP16_SUBPROTOCOL = "ocpp1.6"

# DESIGN §1: a charge point id is 1-48 printable characters without "/". 48 leaves room for the
# 25-character serial numbers of BootNotification plus a prefix; OCPP 1.6 itself sets no limit.
MAX_CHARGE_POINT_ID_LENGTH = 48


@dataclass(frozen=True)
class HandshakeRefused(Exception):
    """A refused opening handshake: the HTTP status answered and the reason logged."""

    status: HTTPStatus
    reason: str

    def __str__(self) -> str:
        return f"{self.status.value} {self.status.phrase}: {self.reason}"


def parse_charge_point_id(path: str) -> str:
    """Take the charge point id from the last path segment, percent-decoded (OCPP-J 1.6 §3.1.1).

    A trailing slash is tolerated: some chargers add one to the URL the operator typed.
    Raises HandshakeRefused (400) for an empty, over-long or unprintable id.
    """
    raw_path = urlsplit(path).path
    segments = [segment for segment in raw_path.split("/") if segment]
    if not segments:
        raise HandshakeRefused(
            HTTPStatus.BAD_REQUEST,
            "no charge point id in the URL; chargers connect to /ocpp/<ChargePointID>",
        )
    try:
        charge_point_id = unquote(segments[-1], errors="strict")
    except UnicodeDecodeError:
        raise HandshakeRefused(
            HTTPStatus.BAD_REQUEST, "charge point id is not valid percent-encoded UTF-8"
        ) from None
    return check_charge_point_id(charge_point_id)


def check_charge_point_id(charge_point_id: str) -> str:
    """Check an id as typed (already decoded): 1-48 printable characters, no "/".

    Raises HandshakeRefused (400) with the reason; the API and CLI reuse the same rule for ids an
    operator types, taken literally (a "#" or "%41" in a typed id is part of the id).
    """
    if not charge_point_id:
        raise HandshakeRefused(HTTPStatus.BAD_REQUEST, "charge point id is empty")
    if len(charge_point_id) > MAX_CHARGE_POINT_ID_LENGTH:
        raise HandshakeRefused(
            HTTPStatus.BAD_REQUEST,
            f"charge point id is {len(charge_point_id)} characters long; "
            f"at most {MAX_CHARGE_POINT_ID_LENGTH} are allowed",
        )
    if "/" in charge_point_id or not charge_point_id.isprintable():
        raise HandshakeRefused(
            HTTPStatus.BAD_REQUEST,
            f"charge point id {charge_point_id!r} contains '/' or unprintable characters",
        )
    return charge_point_id


class SubprotocolChoice(enum.Enum):
    """Outcome of subprotocol negotiation."""

    OCPP16 = "ocpp1.6"
    NONE_OFFERED = "none offered"  # accepted as 1.6 with a warning: Grizzl-E and others
    NOT_OFFERED = "ocpp1.6 not offered"  # handshake completes without a protocol, then closes


def choose_subprotocol(offered: list[str]) -> SubprotocolChoice:
    """Pick ``ocpp1.6`` from the offered list (OCPP-J 1.6 §3.1.2).

    A charger offering other versions only gets the handshake completed without a
    Sec-WebSocket-Protocol header and then closed, as the spec requires. A charger offering no
    subprotocol at all is taken as 1.6 (reference notes: Grizzl-E, lbbrhzn/ocpp #442; SteVe's
    HTTP 400 for these leaves owners stuck), and the edge logs that it did so.
    """
    if OCPP16_SUBPROTOCOL in offered:
        return SubprotocolChoice.OCPP16
    if not offered:
        return SubprotocolChoice.NONE_OFFERED
    return SubprotocolChoice.NOT_OFFERED
