"""The OpenAPI document: checked in as docs/openapi.json, identical to what the route table
generates, and a valid OpenAPI 3.1 document whose schemas are valid JSON Schema 2020-12."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import schemathesis

from chargedeck.cli.openapi import REGENERATE_COMMAND, openapi_text
from chargedeck.server.api.app import ROUTES, Api
from chargedeck.server.api.query_parameters import QUERY_PARAMETERS

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _schemas(document: dict[str, Any]) -> list[Any]:
    """Every schema of the document: components and each operation's bodies and parameters."""
    found: list[Any] = list(document["components"]["schemas"].values())
    for operations in document["paths"].values():
        for operation in operations.values():
            found += [p["schema"] for p in operation["parameters"]]
            bodies = [operation.get("requestBody", {"content": {}})]
            bodies += list(operation["responses"].values())
            found += [
                media["schema"]
                for body in bodies
                for media in body.get("content", {}).values()
                if "schema" in media
            ]
    return found


def test_checked_in_document_is_the_one_the_route_table_generates() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == openapi_text(), (
        f"docs/openapi.json is out of date; regenerate it: {REGENERATE_COMMAND}"
    )


def test_generated_document_is_valid_openapi_3_1() -> None:
    document = json.loads(openapi_text())
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()  # raises with the first mistake


def test_every_schema_of_the_document_is_valid_json_schema_2020_12() -> None:
    document = json.loads(openapi_text())
    schemas = _schemas(document)
    assert len(schemas) > 100
    for schema in schemas:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_fixed_length_arrays_are_written_without_prefix_items() -> None:
    """schemathesis 4 refuses ``prefixItems`` (see server/api/openapi.py _plain_tuples)."""
    assert "prefixItems" not in openapi_text()


def test_openapi_command_check_names_the_command_that_regenerates(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    command = [sys.executable, "-m", "chargedeck", "openapi", "--out", str(stale), "--check"]
    checked = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert checked.returncode == 1
    assert REGENERATE_COMMAND in checked.stderr
    written = subprocess.run(command[:-1], capture_output=True, text=True, check=False, timeout=60)
    assert written.returncode == 0, written.stderr
    assert stale.read_text(encoding="utf-8") == openapi_text()


def test_every_documented_query_parameter_belongs_to_a_route_that_reads_it() -> None:
    """No row for a handler that does not exist, and no parameter its handler never reads."""
    handlers = {route.handler for route in ROUTES}
    assert set(QUERY_PARAMETERS) <= handlers, set(QUERY_PARAMETERS) - handlers
    for handler, parameters in QUERY_PARAMETERS.items():
        source = inspect.getsource(getattr(Api, handler))
        for helper in re.findall(r"self\.(_\w+)\(", source):  # what the handler delegates to
            source += inspect.getsource(getattr(Api, helper))
        for parameter in parameters:
            read = {
                "limit": "limit(request" in source,
                "cursor": "cursor" in source,
            }.get(parameter.name, f'"{parameter.name}"' in source)
            assert read, f"{handler} does not read the query parameter {parameter.name}"
