"""OpenAPI 3.1 document generated from the route table and the API's msgspec types.

Every operation names the security schemes it accepts (bearer token, HTTP Basic) and, in
``x-required-scope``, the scope a caller needs, taken from the route's row. The document itself is
served without credentials: it describes the API, it holds no data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from chargedeck import __version__
from chargedeck.server.api.query_parameters import QUERY_PARAMETERS
from chargedeck.server.api.views import Problem

if TYPE_CHECKING:
    from chargedeck.server.api.app import ApiRoute

_REF = "#/components/schemas/{name}"
SCOPE_EXTENSION = "x-required-scope"
# True where the user named by {username} may call the operation with Basic auth, any scope.
SELF_SERVICE_EXTENSION = "x-self-service"
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (cdk_...): chargedeck tokens create NAME --scope SCOPE, "
        "or POST /api/v1/tokens",
    },
    "operatorPassword": {
        "type": "http",
        "scheme": "basic",
        "description": "An operator account's username and password",
    },
}
_SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
_DESCRIPTION = (
    "Every operation needs credentials: Authorization: Bearer <API token>, or HTTP Basic with "
    "an operator account. Each operation names the scope it needs in x-required-scope (read < "
    "operate < admin); where x-self-service is true, the user named in the path may call it "
    "too, authenticated by password. Missing or invalid credentials answer 401, too small a "
    "scope 403. This document is public."
)


def _response_schema(route: ApiRoute, schema_of: dict[int, Any]) -> Any:
    """JSON answers by their type; a file download (``bytes``) as binary."""
    if route.media_type != "application/json":
        return {"type": "string", "format": "binary"}
    return schema_of[id(route.response)]


def _plain_tuples(node: Any) -> Any:
    """``node`` with each fixed-length array of one item type (msgspec writes
    ``tuple[float, float, float]`` as ``prefixItems`` + ``items: false``) written as ``items`` of
    that type with ``minItems`` = ``maxItems``: the same instances, and a form every OpenAPI tool
    reads (schemathesis 4 rejects the ``prefixItems`` form: schemathesis issues #3842, #4099)."""
    if isinstance(node, list | tuple):
        return [_plain_tuples(item) for item in node]
    if not isinstance(node, dict):
        return node
    plain = {key: _plain_tuples(value) for key, value in node.items()}
    prefix = plain.get("prefixItems")
    if (
        isinstance(prefix, list)
        and prefix
        and all(item == prefix[0] for item in prefix)
        and plain.get("items") is False
        and plain.get("minItems") == plain.get("maxItems") == len(prefix)
    ):
        del plain["prefixItems"]
        plain["items"] = prefix[0]
    return plain


def build_openapi(routes: Sequence[ApiRoute], prefix: str) -> dict[str, Any]:
    """Paths from ``routes``; schemas from their request/response types."""
    types: list[Any] = [Problem]
    for route in routes:
        types.append(route.response)
        if route.request is not None:
            types.append(route.request)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    schemas, components = _plain_tuples(schemas), _plain_tuples(components)
    schema_of = dict(zip((id(t) for t in types), schemas, strict=True))
    problem_schema = schema_of[id(Problem)]
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        parameters += [query.openapi() for query in QUERY_PARAMETERS.get(route.handler, ())]
        problem = {"application/problem+json": {"schema": problem_schema}}
        operation: dict[str, Any] = {
            "operationId": route.handler,
            "summary": route.summary,
            "parameters": parameters,
            "security": [] if route.public else _SECURITY,
            SCOPE_EXTENSION: route.scope.value,
            SELF_SERVICE_EXTENSION: route.self_service,
            "responses": {
                str(route.status): {
                    "description": "OK",
                    "content": {route.media_type: {"schema": _response_schema(route, schema_of)}},
                },
                "401": {
                    "description": "No, unknown, revoked or expired credentials",
                    "content": problem,
                },
                "403": {"description": f"Needs scope {route.scope.value}", "content": problem},
                "default": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": problem_schema}},
                },
            },
        }
        if route.request is not None:
            operation["requestBody"] = {
                "required": not route.body_optional,
                "content": {"application/json": {"schema": schema_of[id(route.request)]}},
            }
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ChargeDeck operator API",
            "version": __version__,
            "description": _DESCRIPTION,
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }
