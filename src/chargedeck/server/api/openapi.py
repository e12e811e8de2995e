"""OpenAPI 3.1 document generated from the route table and the API's msgspec types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from chargedeck import __version__
from chargedeck.server.api.views import Problem

if TYPE_CHECKING:
    from chargedeck.server.api.app import ApiRoute

_REF = "#/components/schemas/{name}"


def build_openapi(routes: Sequence[ApiRoute], prefix: str) -> dict[str, Any]:
    """Paths from ``routes``; schemas from their request/response types."""
    types: list[Any] = [Problem]
    for route in routes:
        types.append(route.response)
        if route.request is not None:
            types.append(route.request)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    schema_of = dict(zip((id(t) for t in types), schemas, strict=True))
    problem_schema = schema_of[id(Problem)]
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        operation: dict[str, Any] = {
            "operationId": route.handler,
            "summary": route.summary,
            "parameters": parameters,
            "responses": {
                str(route.status): {
                    "description": "OK",
                    "content": {"application/json": {"schema": schema_of[id(route.response)]}},
                },
                "default": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": problem_schema}},
                },
            },
        }
        if route.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[id(route.request)]}},
            }
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "ChargeDeck operator API", "version": __version__},
        "paths": paths,
        "components": {"schemas": components},
    }
