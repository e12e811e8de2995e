"""The query parameters (filters, page size, cursor) of the list routes, by handler name, for
the OpenAPI document: an operator or a generated client sees which filters a list takes, and
schemathesis sends good and bad values for each of them.

A row names what the handler reads and how it refuses a bad value (400 invalid-query, or
invalid-cursor): keep the schemas no stricter than the handler, or generated valid values would
be refused. Handlers not listed take no query parameters, or document them in their summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chargedeck.ocpp.handshake import MAX_CHARGE_POINT_ID_LENGTH
from chargedeck.server.api.common import MAX_PAGE_SIZE, MAX_TRANSACTION_ID


@dataclass(frozen=True)
class QueryParameter:
    name: str
    description: str
    schema: Mapping[str, Any]

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 parameter object (always optional)."""
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": dict(self.schema),
        }


LIMIT = QueryParameter(
    "limit",
    f"Items per page, 1 to {MAX_PAGE_SIZE}",
    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
)
CURSOR = QueryParameter(
    "cursor",
    "next_cursor of the previous page",
    {"type": "integer", "minimum": 1, "maximum": MAX_TRANSACTION_ID},
)
CHARGE_POINT_CURSOR = QueryParameter(
    "cursor",
    "next_cursor of the previous page",
    {"type": "string", "minLength": 1, "maxLength": MAX_CHARGE_POINT_ID_LENGTH},
)
CHARGE_POINT_ID = QueryParameter("charge_point_id", "Only this charge point's", {"type": "string"})
PAGE = (LIMIT, CURSOR)


def _boolean(name: str, description: str) -> QueryParameter:
    return QueryParameter(name, description, {"type": "string", "enum": ["true", "false"]})


QUERY_PARAMETERS: Mapping[str, tuple[QueryParameter, ...]] = {
    "list_charge_points": (
        QueryParameter(
            "registration",
            "Only registered, or only pending (the adoption inbox)",
            {"type": "string", "enum": ["registered", "pending"]},
        ),
        LIMIT,
        CHARGE_POINT_CURSOR,
    ),
    "inbox": (LIMIT, CHARGE_POINT_CURSOR),
    "status_history": PAGE,
    "list_transactions": (
        CHARGE_POINT_ID,
        _boolean("active", "true: running sessions only; false: finished ones only"),
        *PAGE,
    ),
    "list_transaction_meter_values": PAGE,
    "list_charge_point_rejections": (LIMIT,),
    "list_rejections": (CHARGE_POINT_ID, LIMIT),
    "list_certificates": (CHARGE_POINT_ID,),
    "list_security_events": (CHARGE_POINT_ID, *PAGE),
    "list_id_tags": (
        LIMIT,
        QueryParameter("cursor", "next_cursor of the previous page", {"type": "string"}),
    ),
    "list_unknown_id_tags": (LIMIT,),
    "get_local_list": (LIMIT,),
    "list_charging_profiles": (LIMIT,),
    "list_acceptance_checks": (LIMIT,),
    "list_configuration_snapshots": (LIMIT,),
    "list_reservations": (
        CHARGE_POINT_ID,
        QueryParameter("status", "Only these statuses, comma-separated (a,b)", {"type": "string"}),
        *PAGE,
    ),
    "list_limit_alerts": (
        CHARGE_POINT_ID,
        _boolean("open", "true: alerts not cleared yet only"),
        *PAGE,
    ),
    "list_firmware_jobs": PAGE,
    "list_diagnostics": (CHARGE_POINT_ID, *PAGE),
    "upload_firmware": (
        QueryParameter(
            "name", "The file name, when the body is the file itself", {"type": "string"}
        ),
    ),
}
