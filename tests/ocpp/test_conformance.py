"""Every message Struct against the official OCPP 1.6 JSON schemas (DESIGN §3).

The schemas are read at test time from the installed PyPI ``ocpp`` package (never copied into
this repository) and compiled with fastjsonschema, which is the oracle: a sample is "valid"
when fastjsonschema accepts it. hypothesis-jsonschema generates valid samples; mutating them in
one place gives invalid samples whose CallError code the codec's mapping table fixes.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.resources
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any

import fastjsonschema
import hypothesis_jsonschema._from_schema
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis_jsonschema import from_schema

from chargedeck.ocpp import errors
from chargedeck.ocpp.codec import decode_request, decode_response, encode_message
from chargedeck.ocpp.v16.actions import ACTIONS, Action


class _ManyWithMore:
    """hypothesis-jsonschema 0.23.1 (pinned) predates the ``many`` API of hypothesis 6.170
    (pinned): a context manager iterated with ``for``. Its object strategy still calls
    ``many(...).more()`` and ``.reject()``, and fails with AttributeError. This adapter gives it
    the old interface on top of the new one; it switches itself off once ``many`` has ``more``.
    """

    _DONE = object()

    def __init__(self, data: Any, **kwargs: Any) -> None:
        self._many = conjecture_utils.many(data, **kwargs)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        if next(self._elements, self._DONE) is self._DONE:
            self._many.__exit__(None)
            return False
        return True

    def reject(self) -> None:
        self._many.reject()


if not hasattr(conjecture_utils.many, "more"):
    hypothesis_jsonschema._from_schema.cu = SimpleNamespace(many=_ManyWithMore)  # type: ignore[assignment,attr-defined]

ACTION_NAMES = sorted(ACTIONS)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

UNKNOWN_PROPERTY = "chargeDeckUnknownProperty"
NOT_AN_ENUM_VALUE = "NotAnAllowedValue"

# What decode_request must raise for each kind of mutation (codec module docstring table).
EXPECTED_ERROR: dict[str, type[errors.CallErrorSent]] = {
    "unknown property": errors.FormationViolation,
    "required property dropped": errors.OccurenceConstraintViolation,
    "array emptied below minItems": errors.OccurenceConstraintViolation,
    "wrong JSON type": errors.TypeConstraintViolation,
    "string over maxLength": errors.TypeConstraintViolation,
    "malformed date-time": errors.TypeConstraintViolation,
    "date-time without offset": errors.TypeConstraintViolation,
    "value not in enum": errors.PropertyConstraintViolation,
    "not a multiple of 0.1": errors.PropertyConstraintViolation,
}


# ---- the schemas, from the installed ocpp package --------------------------------------------


@cache
def official_schemas() -> dict[str, dict[str, Any]]:
    """Schema file stem ("Authorize", "AuthorizeResponse") -> schema."""
    folder = importlib.resources.files("ocpp") / "v16" / "schemas"
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def schema_name(action: Action, *, response: bool) -> str:
    return action.name + ("Response" if response else "")


@cache
def oracle(name: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile(official_schemas()[name])


def schema_accepts(name: str, instance: Any) -> bool:
    try:
        oracle(name)(instance)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


# ---- valid samples --------------------------------------------------------------------------

_YEAR_ZERO = re.compile(r"0000(?=-\d\d-\d\d[Tt])")


def _without_year_zero(value: Any) -> Any:
    """hypothesis-jsonschema draws RFC 3339 years from 0000; Python's datetime starts at year 1,
    and no charger sends year 0, so such date-times are moved to year 0001 (still valid)."""
    if isinstance(value, str):
        return _YEAR_ZERO.sub("0001", value, count=1)
    if isinstance(value, list):
        return [_without_year_zero(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_year_zero(item) for key, item in value.items()}
    return value


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    """The Security extension schemas use ``$ref: #/definitions/X`` beside a urn ``$id``, which
    hypothesis-jsonschema's resolver takes for a remote document; inlined, they need no resolver.
    """
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_refs(
                definitions[node["$ref"].removeprefix("#/definitions/")], definitions
            )
        return {
            key: _inline_refs(value, definitions)
            for key, value in node.items()
            if key not in ("$id", "id", "$schema", "definitions")
        }
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node


@cache
def valid_samples(name: str) -> st.SearchStrategy[Any]:
    """Schema-valid samples of one schema, as fastjsonschema judges them.

    hypothesis-jsonschema draws ``multipleOf: 0.1`` numbers as k * 0.1, which leaves binary
    noise (-57880.600000000006) that fastjsonschema's exact decimal test refuses; about half
    the charging-profile samples are therefore filtered out (the codec would accept and snap
    them to the tenth). Integers are drawn as Python ints, never 1.0, so draft-04's "1.0 is not
    an integer" needs no care.
    """
    return (
        from_schema(
            _inline_refs(official_schemas()[name], official_schemas()[name].get("definitions", {}))
        )
        .map(_without_year_zero)
        .filter(lambda sample: schema_accepts(name, sample))
    )


def to_bytes(instance: Any) -> bytes:
    return json.dumps(instance, ensure_ascii=False).encode()


# ---- invalid samples: one mutation of a valid one ---------------------------------------------


@dataclass(frozen=True)
class Mutant:
    kind: str
    where: str
    payload: Any


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref: str = schema["$ref"]
        schema = root["definitions"][ref.removeprefix("#/definitions/")]
    return schema


def _wrong_type_value(schema: dict[str, Any]) -> Any:
    return 12 if schema.get("type") == "string" else "a string of the wrong type"


def _not_a_tenth(value: float | int) -> float:
    return int(value) % 1000 + 0.05


def mutants(
    instance: Any, schema: dict[str, Any], root: dict[str, Any], where: str = ""
) -> Iterator[tuple[str, str, Callable[[Any], Any]]]:
    """(kind, where, replace) for every single-place mutation below ``instance``.

    ``replace`` maps the value at this place to its mutated value; the caller applies it to a
    deep copy of the whole sample.
    """
    schema = _resolve(schema, root)
    kind = schema.get("type")
    if kind == "object" and isinstance(instance, dict):
        yield "unknown property", where, lambda v: {**v, UNKNOWN_PROPERTY: 1}
        for name in schema.get("required", []):
            yield (
                "required property dropped",
                f"{where}.{name}",
                _without(name),
            )
        for name, value in instance.items():
            child = _resolve(schema["properties"][name], root)
            path = f"{where}.{name}"
            yield "wrong JSON type", path, _at_key(name, _constant(_wrong_type_value(child)))
            for mutation, sub_where, replace in mutants(value, child, root, path):
                yield mutation, sub_where, _at_key(name, replace)
    elif kind == "array" and isinstance(instance, list):
        if schema.get("minItems", 0) >= 1:
            yield "array emptied below minItems", where, lambda _v: []
        item_schema = schema["items"]
        for index, item in enumerate(instance[:2]):
            for mutation, sub_where, replace in mutants(
                item, item_schema, root, f"{where}[{index}]"
            ):
                yield mutation, sub_where, _at_index(index, replace)
    elif kind == "string":
        if "maxLength" in schema:
            yield "string over maxLength", where, lambda _v: "x" * (schema["maxLength"] + 1)
        if "enum" in schema:
            yield "value not in enum", where, lambda _v: NOT_AN_ENUM_VALUE
        if schema.get("format") == "date-time":
            yield "malformed date-time", where, lambda _v: "yesterday at noon"
            yield "date-time without offset", where, lambda _v: "2024-05-01T12:00:00"
    elif kind == "number" and schema.get("multipleOf") == 0.1:
        yield "not a multiple of 0.1", where, _not_a_tenth


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _old: value


def _without(key: str) -> Callable[[Any], Any]:
    return lambda value: {k: v for k, v in value.items() if k != key}


def _at_key(key: str, replace: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: {**value, key: replace(value[key])}


def _at_index(index: int, replace: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: [*value[:index], replace(value[index]), *value[index + 1 :]]


def all_mutants(name: str, sample: Any) -> list[Mutant]:
    root = official_schemas()[name]
    return [
        Mutant(kind, where or "<payload>", replace(copy.deepcopy(sample)))
        for kind, where, replace in mutants(sample, root, root)
    ]


# ---- the table and the schema files are the same set ------------------------------------------


def test_schema_files_are_exactly_the_requests_and_responses_of_the_action_table() -> None:
    expected = {schema_name(a, response=r) for a in ACTIONS.values() for r in (False, True)}
    assert set(official_schemas()) == expected


def test_every_action_row_is_keyed_by_its_own_name() -> None:
    assert all(name == action.name for name, action in ACTIONS.items())


# ---- schema-valid samples decode and re-encode valid ------------------------------------------


@pytest.mark.parametrize("name", ACTION_NAMES)
@SETTINGS
@given(data=st.data())
def test_schema_valid_request_decodes_and_reencodes_schema_valid(
    name: str, data: st.DataObject
) -> None:
    action = ACTIONS[name]
    schema = schema_name(action, response=False)
    sample = data.draw(valid_samples(schema), label="request")
    message = decode_request(action, to_bytes(sample))
    assert type(message) is action.request
    assert schema_accepts(schema, json.loads(encode_message(message)))


@pytest.mark.parametrize("name", ACTION_NAMES)
@SETTINGS
@given(data=st.data())
def test_schema_valid_response_decodes_and_reencodes_schema_valid(
    name: str, data: st.DataObject
) -> None:
    action = ACTIONS[name]
    schema = schema_name(action, response=True)
    sample = data.draw(valid_samples(schema), label="response")
    message = decode_response(action, to_bytes(sample))
    assert type(message) is action.response
    assert schema_accepts(schema, json.loads(encode_message(message)))


# ---- schema-invalid samples are refused with the mapped CallError ------------------------------


@pytest.mark.parametrize("name", ACTION_NAMES)
@SETTINGS
@given(data=st.data())
def test_schema_invalid_request_is_refused_with_the_mapped_call_error(
    name: str, data: st.DataObject
) -> None:
    action = ACTIONS[name]
    schema = schema_name(action, response=False)
    sample = data.draw(valid_samples(schema), label="request")
    for mutant in all_mutants(schema, sample):
        assert not schema_accepts(schema, mutant.payload), mutant
        with pytest.raises(errors.CallErrorSent) as refused:
            decode_request(action, to_bytes(mutant.payload))
        assert type(refused.value) is EXPECTED_ERROR[mutant.kind], (mutant, refused.value)


@pytest.mark.parametrize("name", ACTION_NAMES)
@SETTINGS
@given(data=st.data())
def test_schema_invalid_response_is_refused_as_invalid_response(
    name: str, data: st.DataObject
) -> None:
    action = ACTIONS[name]
    schema = schema_name(action, response=True)
    sample = data.draw(valid_samples(schema), label="response")
    for mutant in all_mutants(schema, sample):
        assert not schema_accepts(schema, mutant.payload), mutant
        with pytest.raises(errors.InvalidResponse):
            decode_response(action, to_bytes(mutant.payload))


# ---- fuzz: nothing but typed protocol errors come out ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


def _wire_names(struct_type: type[msgspec.Struct]) -> list[str]:
    return [field.encode_name for field in msgspec.structs.fields(struct_type)] or ["x"]


@st.composite
def near_miss_payloads(draw: st.DrawFn, struct_type: type[msgspec.Struct]) -> bytes:
    """JSON objects keyed mostly by the type's own wire names, so validation goes deep."""
    keys = st.sampled_from(_wire_names(struct_type)) | st.text(max_size=5)
    return to_bytes(draw(st.dictionaries(keys, json_values, max_size=6)))


any_bytes = st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
any_json = json_values.map(to_bytes)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(ACTION_NAMES), data=st.data())
def test_arbitrary_request_payload_raises_only_typed_call_errors(
    name: str, data: st.DataObject
) -> None:
    action = ACTIONS[name]
    payload = data.draw(any_bytes | any_json | near_miss_payloads(action.request))
    with contextlib.suppress(errors.CallErrorSent):
        decode_request(action, payload)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(ACTION_NAMES), data=st.data())
def test_arbitrary_response_payload_raises_only_invalid_response(
    name: str, data: st.DataObject
) -> None:
    action = ACTIONS[name]
    payload = data.draw(any_bytes | any_json | near_miss_payloads(action.response))
    with contextlib.suppress(errors.InvalidResponse):
        decode_response(action, payload)
