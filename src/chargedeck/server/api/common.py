"""What every API handler module shares: problem+json errors, JSON answers, request bodies and
path values checked with a sentence, and the base of the handler classes.

The route table stays in ``app.py`` (STYLE rule 2: REST routes in one place); handlers of an
area may live in their own module as a class deriving from :class:`ApiHandlers`, which ``Api``
in ``app.py`` inherits.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chargedeck.csms.commands import ChargePointNotConnected, CommandNotAllowed, UnknownChargePoint
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import ChargePointDisconnected, NodeTimeout, NodeUnreachable
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.ocpp.handshake import HandshakeRefused, check_charge_point_id
from chargedeck.server.api.views import Problem
from chargedeck.store.records import ChargePointRecord

if TYPE_CHECKING:
    from chargedeck.csms.connection_guard import ConnectionGuard
    from chargedeck.server.api.auth import Authenticator
    from chargedeck.server.tls import ServerTls

API_PREFIX = "/api/v1"
PROBLEM_TYPE_BASE = "https://chargedeck.invalid/problems/"
MAX_PAGE_SIZE = 500  # large enough for an export page, small enough to answer in one go

ENCODER = msgspec.json.Encoder()
JSON_DECODER = msgspec.json.Decoder()
BodyT = TypeVar("BodyT")
T = TypeVar("T")


class ApiProblem(Exception):
    """An API error with its HTTP status and a sentence; rendered as problem+json."""

    def __init__(
        self,
        status: HTTPStatus,
        kind: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers


def json_response(body: Any, status: int = 200) -> Response:
    return Response(ENCODER.encode(body), status_code=status, media_type="application/json")


def problem_response(request: Request, problem: ApiProblem) -> Response:
    body = Problem(
        type=PROBLEM_TYPE_BASE + problem.kind,
        title=problem.status.phrase,
        status=problem.status.value,
        detail=problem.detail,
        instance=request.url.path,
    )
    return Response(
        ENCODER.encode(body),
        status_code=problem.status.value,
        media_type="application/problem+json",
        headers=problem.headers,
    )


# Bodies are JSON (RFC 8259). Accepted: no Content-Type, application/json or any +json type, and
# application/x-www-form-urlencoded, which `curl -d` sends unless told otherwise (the README's
# examples); any other type is a 415 (RFC 9110 §15.5.16) that names what to send.
_JSON_BODY_TYPES = frozenset({"", "application/json", "application/x-www-form-urlencoded"})


def check_json_content_type(request: Request) -> None:
    """Refuse a body declared as something other than JSON with 415."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _JSON_BODY_TYPES or media_type.endswith("+json"):
        return
    raise ApiProblem(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        f"the body must be JSON (Content-Type: application/json), not {media_type[:60]!r}",
    )


async def read_body(request: Request, body_type: type[BodyT]) -> BodyT:
    check_json_content_type(request)
    raw = await request.body()
    try:
        return msgspec.json.decode(raw, type=body_type)
    except msgspec.DecodeError as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None


def path_charge_point_id(request: Request) -> ChargePointId:
    """The id in the path, already percent-decoded by the router: a bad one is a 400."""
    return checked_charge_point_id(request.path_params["charge_point_id"], HTTPStatus.BAD_REQUEST)


def checked_charge_point_id(text: str, status: HTTPStatus) -> ChargePointId:
    """An id taken literally and checked like a charger's; a bad one is ``status``."""
    try:
        return ChargePointId(check_charge_point_id(text))
    except HandshakeRefused as refused:
        raise ApiProblem(status, "invalid-charge-point-id", refused.reason) from None


# OCPP 1.6 transactionId is an integer; ChargeDeck hands out 1 .. 2^31-1 (int32 on chargers).
# Token ids (an int4 serial on PostgreSQL) share the range.
MAX_TRANSACTION_ID = 2**31 - 1


def id_number(text: str, what: str, hint: str) -> int:
    """A decimal id (transaction, token) or cursor in 1 .. 2^31-1; else a 400 naming it."""
    if re.fullmatch(r"[0-9]{1,10}", text) is None or not 1 <= int(text) <= MAX_TRANSACTION_ID:
        raise ApiProblem(
            HTTPStatus.BAD_REQUEST,
            f"invalid-{what}",
            f"{what.replace('-', ' ')} {text[:32]!r} is not a number from 1 to "
            f"{MAX_TRANSACTION_ID}{hint}",
        )
    return int(text)


def page_limit(request: Request, default: int = 50) -> int:
    text = request.query_params.get("limit", str(default))
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ApiProblem(
            HTTPStatus.BAD_REQUEST,
            "invalid-query",
            f"limit={text!r}: expected an integer from 1 to {MAX_PAGE_SIZE}",
        )
    return limit


def query_problem(detail: str) -> ApiProblem:
    """A 400 invalid-query whose ``detail`` names the parameter and what was expected."""
    return ApiProblem(HTTPStatus.BAD_REQUEST, "invalid-query", detail)


def check_query_parameters(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    """Refuse (400) a query parameter the route does not take: a mistyped filter must not
    silently widen a search or an export."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise query_problem(
            f"unknown query parameter {unknown[0][:32]!r}; expected some of "
            f"{', '.join(sorted(allowed))}"
        )


def checked_value(check: Callable[[T], T], value: T) -> T:
    """``check(value)``; its ValueError becomes a 422 with the rule's sentence."""
    try:
        return check(value)
    except ValueError as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None


@contextlib.contextmanager
def charger_errors() -> Iterator[None]:
    """What can go wrong when asking a charger something, as problems."""
    try:
        yield
    except UnknownChargePoint as exc:
        raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-charge-point", str(exc)) from None
    except NodeUnreachable as exc:  # before its base class ChargePointDisconnected
        raise ApiProblem(HTTPStatus.SERVICE_UNAVAILABLE, "node-unreachable", str(exc)) from None
    except NodeTimeout as exc:  # before its base class CallTimeout
        raise ApiProblem(HTTPStatus.GATEWAY_TIMEOUT, "node-timeout", str(exc)) from None
    except (ChargePointNotConnected, ChargePointDisconnected) as exc:
        raise ApiProblem(HTTPStatus.CONFLICT, "charge-point-not-connected", str(exc)) from None
    except CommandNotAllowed as exc:
        raise ApiProblem(HTTPStatus.CONFLICT, "command-not-allowed", str(exc)) from None
    except CallTimeout as exc:
        raise ApiProblem(HTTPStatus.GATEWAY_TIMEOUT, "charge-point-timeout", str(exc)) from None
    except (CallErrorReceived, InvalidResponse) as exc:
        raise ApiProblem(HTTPStatus.BAD_GATEWAY, "charge-point-error", str(exc)) from None


class ApiHandlers:
    """The state every handler class shares; ``Api`` (app.py) combines the handler classes."""

    def __init__(
        self,
        services: CsmsServices,
        authenticator: Authenticator,
        server_tls: ServerTls | None = None,
        guard: ConnectionGuard | None = None,
    ) -> None:
        self.services = services
        self.authenticator = authenticator
        self.server_tls = server_tls
        self.guard = guard

    async def known_charge_point(self, charge_point_id: ChargePointId) -> ChargePointRecord:
        """The stored charge point, or a 404 naming it."""
        record = await self.services.store.charge_points.get_charge_point(charge_point_id)
        if record is None:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-charge-point",
                f"charge point {charge_point_id!r} is not known to this CSMS",
            )
        return record


def numeric_cursor(request: Request) -> int | None:
    """The ``cursor`` of a page of records with numeric ids (None: the first page)."""
    text = request.query_params.get("cursor")
    if text is None:
        return None
    return id_number(text, "cursor", "; use next_cursor of the previous page")
