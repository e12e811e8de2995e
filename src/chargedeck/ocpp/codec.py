"""Payload codec: bytes of a CALL/CALLRESULT payload <-> the action's typed message.

msgspec validates while it decodes; this module translates its refusals, where they enter
(STYLE rule 3), into exactly one CallError per problem with a sentence that says what was wrong
and where (wire field path). A peer's CALL we refuse raises a :class:`errors.CallErrorSent`
subclass; a peer's answer to our CALL that does not fit raises :class:`errors.InvalidResponse`.
Nothing else ever leaves ``decode_request``/``decode_response``.

A JSON ``null`` payload is an empty object: OCPP-J 1.6 §4.1.6 calls ``{}`` good practice but
says receivers must accept ``null``.

Error mapping (the project's decision, from the wording of OCPP-J 1.6 §4.2.3 Table 7:
FormationViolation "syntactically incorrect or not conform the PDU structure",
OccurenceConstraintViolation "violates occurence constraints", TypeConstraintViolation
"violates data type constraints (e.g. "somestring": 12)", PropertyConstraintViolation
"a field contains an invalid value"). A CiString length is part of its *type* (CiString20Type),
hence TypeConstraintViolation. ProtocolError ("payload is incomplete") is not used: a missing
required field breaks its 1..1 cardinality, which the more precise Occurence code names.

============================================================  ============================
What is wrong (msgspec's words, path appended " - at `$.x`")  CallError code
============================================================  ============================
payload not JSON or not UTF-8 (DecodeError)                   FormationViolation
payload not a JSON object ("Expected `object`" at the root)   FormationViolation
unknown extra field ("Object contains unknown field")         FormationViolation
required field missing ("Object missing required field")      OccurenceConstraintViolation
too few / many items ("Expected `array` of length >= 1")      OccurenceConstraintViolation
wrong JSON type ("Expected `str`, got `int`")                 TypeConstraintViolation
string over its CiString length ("of length <= 20")           TypeConstraintViolation
malformed date-time ("Invalid RFC3339 encoded datetime")      TypeConstraintViolation
zone-less date-time ("with a timezone component")             TypeConstraintViolation
enum value not allowed ("Invalid enum value 'C'")             PropertyConstraintViolation
number out of range ("Expected `int` >= 0", "out of range")   PropertyConstraintViolation
not a multiple of 0.1 ("`limit` must be a multiple of 0.1")   PropertyConstraintViolation
any other (unexpected) msgspec message                        FormationViolation
============================================================  ============================

The multiple-of-0.1 sentence comes from ``types.round_to_tenth`` (msgspec's own ``multiple_of``
is exact on binary floats, so it would refuse 3 * 0.1).

One known leniency: an explicit ``null`` in an *optional* field is read as absent, because
msgspec decodes ``T | None`` from null, although the schemas never allow null. A required field
given null is a TypeConstraintViolation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import msgspec

from chargedeck.ocpp import errors
from chargedeck.ocpp.v16.actions import Action
from chargedeck.ocpp.v16.base import Message

_ENCODER: Final = msgspec.json.Encoder()

# What msgspec says when the whole payload is JSON null; we then decode ``{}`` instead.
_NULL_PAYLOAD: Final = "Expected `object`, got `null`"

# msgspec appends the location of a validation error as " - at `$.a[0].b`".
_AT_PATH: Final = re.compile(r"(?s)(?P<text>.*) - at `\$\.?(?P<path>[^`]*)`")

# msgspec type names -> JSON Schema type names, for sentences a charger's developer understands.
_JSON_TYPE_NAMES: Final = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "object": "object",
    "array": "array",
    "null": "null",
    "datetime": "date-time string",
}


def encode_message(msg: Message) -> bytes:
    """Encode a message payload as compact UTF-8 JSON with its camelCase wire names."""
    return _ENCODER.encode(msg)


def decode_request(action: Action, payload: bytes) -> Message:
    """Decode the payload of a CALL for ``action`` into its request type.

    Raises the :class:`errors.CallErrorSent` subclass the module table names, with a sentence
    like "StartTransaction: field idTag is longer than 20 characters".
    """
    try:
        return _decode(action.request_decoder, payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        error_class, sentence = _classify(exc)
        raise error_class(f"{action.name}: {sentence}") from exc


def decode_response(action: Action, payload: bytes) -> Message:
    """Decode the payload of a CALLRESULT answering our ``action`` CALL.

    Raises :class:`errors.InvalidResponse` with the same sentence as ``decode_request`` would:
    the peer's answer is wrong, but we do not answer an answer with a CALLERROR.
    """
    try:
        return _decode(action.response_decoder, payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        _, sentence = _classify(exc)
        raise errors.InvalidResponse(action.name, sentence) from exc


def _decode(decoder: msgspec.json.Decoder[Message], payload: bytes) -> Message:
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        # Checked only after a failure, so the usual ``{...}`` payload pays nothing for it.
        if str(exc) == _NULL_PAYLOAD:
            return decoder.decode(b"{}")
        raise


_Sentence = Callable[[re.Match[str], str], str]
_Rule = tuple[re.Pattern[str], type[errors.CallErrorSent], _Sentence]


def _field(path: str) -> str:
    return f"field {path}" if path else "the payload"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_types(msgspec_types: str) -> str:
    """``str | null`` -> ``string``: optional fields accept null, but no peer should send it."""
    names = [n.strip() for n in msgspec_types.split("|") if n.strip() != "null"] or ["null"]
    return " or ".join(_JSON_TYPE_NAMES.get(n, n) for n in names)


_RULES: Final[tuple[_Rule, ...]] = (
    (
        re.compile(r"Object contains unknown field `(?P<name>.*)`"),
        errors.FormationViolation,
        lambda m, p: f"field {_child(p, m['name'])} is not allowed (unknown field)",
    ),
    (
        re.compile(r"Object missing required field `(?P<name>.*)`"),
        errors.OccurenceConstraintViolation,
        lambda m, p: f"required field {_child(p, m['name'])} is missing",
    ),
    (
        re.compile(r"Expected `array` of length >= (?P<n>\d+)"),
        errors.OccurenceConstraintViolation,
        lambda m, p: f"{_field(p)} must have at least {m['n']} item(s)",
    ),
    (
        re.compile(r"Expected `array` of length <= (?P<n>\d+)"),
        errors.OccurenceConstraintViolation,
        lambda m, p: f"{_field(p)} must have at most {m['n']} item(s)",
    ),
    (
        re.compile(r"Expected `str` of length <= (?P<n>\d+)"),
        errors.TypeConstraintViolation,
        lambda m, p: f"{_field(p)} is longer than {m['n']} characters",
    ),
    (
        re.compile(r"Expected `str` of length >= (?P<n>\d+)"),
        errors.TypeConstraintViolation,
        lambda m, p: f"{_field(p)} is shorter than {m['n']} characters",
    ),
    (
        re.compile(r"Invalid RFC3339 encoded datetime"),
        errors.TypeConstraintViolation,
        lambda m, p: f"{_field(p)} is not an RFC 3339 date-time",
    ),
    (
        re.compile(r"Expected `datetime` with a timezone component"),
        errors.TypeConstraintViolation,
        lambda m, p: f"{_field(p)} is a date-time without a time-zone offset",
    ),
    (
        re.compile(r"(?s)Invalid enum value (?P<value>.*)"),
        errors.PropertyConstraintViolation,
        lambda m, p: f"{_field(p)} has the value {m['value']}, which is not an allowed value",
    ),
    (
        re.compile(r"Expected `(?:int|float)` (?P<bound>[<>]=? \S+)"),
        errors.PropertyConstraintViolation,
        lambda m, p: f"{_field(p)} is out of range (must be {m['bound']})",
    ),
    (
        re.compile(r"(?:Number|Integer value) out of range"),
        errors.PropertyConstraintViolation,
        lambda m, p: f"{_field(p)} is out of range",
    ),
    (
        # From types.round_to_tenth, raised in __post_init__ of the struct holding the field.
        re.compile(r"`(?P<name>\w+)` must be a multiple of 0\.1, got (?P<value>.*)"),
        errors.PropertyConstraintViolation,
        lambda m, p: f"field {_child(p, m['name'])} must be a multiple of 0.1, got {m['value']}",
    ),
    (
        re.compile(r"Expected `[^`]*` that's a multiple of (?P<n>\S+)"),
        errors.PropertyConstraintViolation,
        lambda m, p: f"{_field(p)} must be a multiple of {m['n']}",
    ),
    (
        re.compile(r"Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`"),
        errors.TypeConstraintViolation,
        lambda m, p: (
            f"{_field(p)} must be of JSON type {_json_types(m['expected'])}, "
            f"got {_json_types(m['got'])}"
        ),
    ),
)


def _classify(exc: Exception) -> tuple[type[errors.CallErrorSent], str]:
    """Map one msgspec refusal to its CallError class and a sentence (module table)."""
    if isinstance(exc, UnicodeDecodeError):
        return errors.FormationViolation, "payload is not valid UTF-8"
    message = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return errors.FormationViolation, f"payload is not valid JSON ({message})"
    located = _AT_PATH.fullmatch(message)
    text, path = (located["text"], located["path"]) if located else (message, "")
    if not path:
        root = re.fullmatch(r"Expected `object`, got `(?P<got>[^`]*)`", text)
        if root:
            return errors.FormationViolation, (
                f"payload must be a JSON object, got {_json_types(root['got'])}"
            )
    for pattern, error_class, sentence in _RULES:
        match = pattern.fullmatch(text)
        if match:
            return error_class, sentence(match, path)
    return errors.FormationViolation, f"payload does not fit the action ({message})"
