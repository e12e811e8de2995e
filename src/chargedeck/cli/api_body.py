"""The JSON body of a ``chargedeck api`` call, from ``--body`` and ``--field``, typed by the route.

A route's row names its request type (a msgspec Struct, a tagged union of Structs, or a free
``dict`` for OCPP commands, typed then by the action's request in the OCPP action table). Each
``--field NAME=VALUE`` is converted to its field's type the way msgspec converts text (``5`` to an
integer, ``true`` to a boolean, ISO 8601 to a date-time); a value that is not text for its field
(a list, an object) is read as JSON, and ``NAME:=JSON`` always is (``owner:=null`` clears a
field). The whole body is then checked against the type before anything is sent, so a mistake is
named by its field here instead of coming back as a 422. Every error is :class:`BodyError` with a
sentence naming the field; nothing here does I/O except reading a ``--body @FILE``.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi


class BodyError(ValueError):
    """``--body``/``--field`` cannot make a valid body; the message names the field and why."""


@dataclass(frozen=True)
class BodyField:
    """One field of a request body: its wire name, Python type and whether it is required."""

    name: str
    """As sent (the wire name: snake_case for ChargeDeck bodies, camelCase for OCPP payloads)."""
    python_name: str
    type: Any
    required: bool


@dataclass(frozen=True)
class BodyShape:
    """What a route accepts as a JSON body: ``type`` to check it against (None: any object) and
    its fields by wire name (empty when free-form)."""

    type: Any
    fields: Mapping[str, BodyField]
    tag_field: str | None = None
    """A tagged union's discriminator (``kind`` of a site reading), given as a plain field."""

    def field(self, key: str) -> BodyField | None:
        """The field named ``key`` by its wire name or, for camelCase payloads, its Python name."""
        found = self.fields.get(key)
        if found is not None:
            return found
        return next((f for f in self.fields.values() if f.python_name == key), None)


def _struct_members(request: Any) -> list[type[msgspec.Struct]]:
    """The Struct types of a request type: itself, or the members of a union of Structs."""
    if isinstance(request, type) and issubclass(request, msgspec.Struct):
        return [request]
    if typing.get_origin(request) in (typing.Union, types.UnionType):
        return [
            member
            for member in typing.get_args(request)
            if isinstance(member, type) and issubclass(member, msgspec.Struct)
        ]
    return []


def body_shape(request: Any, ocpp_request: Any = None) -> BodyShape:
    """The shape of a route's body; ``ocpp_request``: the OCPP action's request Struct when the
    route takes a free payload for an action (the command route)."""
    members = _struct_members(request) or _struct_members(ocpp_request)
    if not members:
        return BodyShape(type=None, fields={})
    fields: dict[str, BodyField] = {}
    tag_field = None
    for member in members:
        tag_field = tag_field or member.__struct_config__.tag_field
        for info in msgspec.structs.fields(member):
            if info.encode_name not in fields:
                fields[info.encode_name] = BodyField(
                    info.encode_name, info.name, info.type, info.required
                )
    checked = request if _struct_members(request) else members[0]
    return BodyShape(type=checked, fields=fields, tag_field=tag_field)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def convert_field(field: BodyField, text: str, *, raw_json: bool) -> Any:
    """``text`` as a value of ``field`` (raises :class:`BodyError` naming the field)."""
    if raw_json:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise BodyError(f"--field {field.name}:= is not JSON: {exc}") from None
        try:
            return msgspec.convert(value, field.type, strict=False)
        except msgspec.ValidationError as exc:
            raise BodyError(f"--field {field.name}: {_first_line(exc)}") from None
    try:
        return msgspec.convert(text, field.type, strict=False)
    except msgspec.ValidationError as text_error:
        error: msgspec.ValidationError = text_error
    try:
        value = json.loads(text)
    except ValueError:
        raise BodyError(f"--field {field.name}={text!r}: {_first_line(error)}") from None
    try:
        return msgspec.convert(value, field.type, strict=False)
    except msgspec.ValidationError as json_error:
        raise BodyError(f"--field {field.name}={text!r}: {_first_line(json_error)}") from None


def _free_value(text: str, *, raw_json: bool) -> Any:
    """A value of a free-form body: JSON where it parses (``1``, ``true``, ``[...]``), else the
    text itself; ``:=`` demands JSON."""
    try:
        return json.loads(text)
    except ValueError:
        if raw_json:
            raise BodyError(f"--field value {text!r} after := is not JSON") from None
        return text


def read_body_option(text: str) -> dict[str, Any]:
    """``--body``: a JSON object, or ``@FILE`` holding one."""
    source = "--body"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BodyError(f"cannot read --body file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise BodyError(f"--body file {path} is not UTF-8 text") from None
        source = f"--body file {path}"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BodyError(f"{source} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BodyError(f"{source} must be a JSON object, got {type(value).__name__}")
    return value


def split_assignment(text: str, option: str) -> tuple[str, str, bool]:
    """``NAME=VALUE`` or ``NAME:=JSON`` as (name, value, is_json)."""
    name, equals, value = text.partition("=")
    if not equals or not name or name == ":":
        raise BodyError(f"{option} {text!r}: expected NAME=VALUE")
    if name.endswith(":"):
        return name[:-1], value, True
    return name, value, False


def build_body(shape: BodyShape, body: str | None, assignments: Sequence[str]) -> dict[str, Any]:
    """The body to send: ``--body`` (or ``{}``) with each ``--field`` set over it, checked
    against ``shape.type``. Raises :class:`BodyError`."""
    result = read_body_option(body) if body is not None else {}
    for assignment in assignments:
        name, text, raw_json = split_assignment(assignment, "--field")
        if shape.type is None:
            result[name] = _free_value(text, raw_json=raw_json)
            continue
        if name == shape.tag_field:
            result[name] = json.loads(text) if raw_json else text
            continue
        field = shape.field(name)
        if field is None:
            known = sorted(shape.fields) + ([shape.tag_field] if shape.tag_field else [])
            raise BodyError(f"--field {name}: no such field; the body has {', '.join(known)}")
        result[field.name] = convert_field(field, text, raw_json=raw_json)
    if shape.type is not None:
        try:
            msgspec.convert(result, shape.type, strict=False)
        except msgspec.ValidationError as exc:
            raise BodyError(f"the body is not valid: {_first_line(exc)}") from None
    return result


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The body as JSON (converted values such as date-times as msgspec writes them)."""
    return msgspec.json.encode(body)


def type_text(annotation: Any) -> str:
    """A short reader's name of a field type for help texts: ``integer``, ``text or null``."""
    return _info_text(mi.type_info(annotation))


def _info_text(info: mi.Type) -> str:
    simple: dict[type[mi.Type], str] = {
        mi.StrType: "text",
        mi.IntType: "integer",
        mi.FloatType: "number",
        mi.BoolType: "true/false",
        mi.DateTimeType: "date-time",
        mi.DateType: "date",
        mi.NoneType: "null",
        mi.DecimalType: "number",
    }
    if type(info) in simple:
        return simple[type(info)]
    if isinstance(info, mi.UnionType):
        return " or ".join(_info_text(member) for member in info.types)
    if isinstance(info, mi.LiteralType):
        return "|".join(str(value) for value in info.values)
    if isinstance(info, mi.EnumType):
        return "|".join(str(member.value) for member in info.cls)
    if isinstance(info, mi.ListType | mi.SetType | mi.VarTupleType | mi.TupleType):
        return "JSON list"
    if isinstance(info, mi.StructType | mi.DictType | mi.TypedDictType | mi.DataclassType):
        return "JSON object"
    return "JSON"


def _struct_fields_help(member: type[msgspec.Struct]) -> str:
    parts = []
    for info in msgspec.structs.fields(member):
        required = ", required" if info.required else ""
        parts.append(f"{info.encode_name} ({type_text(info.type)}{required})")
    return ", ".join(parts)


def fields_help(shape: BodyShape) -> str:
    """One line for a command's help: each field with its type, required ones marked; for a
    tagged union, the fields of each kind."""
    members = _struct_members(shape.type)
    if shape.tag_field:
        return "; ".join(
            f"{shape.tag_field}={member.__struct_config__.tag}: {_struct_fields_help(member)}"
            for member in members
        )
    return _struct_fields_help(members[0]) if members else ""
