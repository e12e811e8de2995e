"""``chargedeck api`` bodies: ``--field`` values take the type of their field in the route's
request type, mistakes are named by field before anything is sent, and answers are shown as
tables whose columns come from the view."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from rich.console import Console

from chargedeck.cli.api_body import BodyError, body_shape, build_body, encode_body, fields_help
from chargedeck.cli.api_output import item_fields, show_answer
from chargedeck.ocpp.v16.core import RemoteStartTransactionRequest
from chargedeck.server.api.authorization_views import IdTagChange, NewIdTag
from chargedeck.server.api.sites import ReadingBody
from chargedeck.server.api.views import ChargePointView, NewChargePoint, Page


def test_fields_take_the_type_of_their_field() -> None:
    body = build_body(
        body_shape(NewIdTag),
        None,
        [
            "id_tag=1234",
            "max_active_transactions=2",
            "blocked=true",
            "expiry_date=2027-01-31T12:00:00Z",
        ],
    )
    assert body == {
        "id_tag": "1234",
        "max_active_transactions": 2,
        "blocked": True,
        "expiry_date": datetime(2027, 1, 31, 12, tzinfo=UTC),
    }
    assert json.loads(encode_body(body))["expiry_date"] == "2027-01-31T12:00:00Z"


def test_a_value_that_does_not_fit_its_field_names_the_field() -> None:
    with pytest.raises(BodyError) as raised:
        build_body(body_shape(NewIdTag), None, ["max_active_transactions=two"])
    assert (
        str(raised.value)
        == "--field max_active_transactions='two': Expected `int | null`, got `str`"
    )


def test_a_value_outside_its_field_constraint_is_refused() -> None:
    with pytest.raises(
        BodyError, match=r"^--field max_active_transactions='0': Expected `int` >= 1"
    ):
        build_body(body_shape(NewIdTag), None, ["max_active_transactions=0"])


def test_an_unknown_field_lists_the_fields_of_the_body() -> None:
    with pytest.raises(BodyError) as raised:
        build_body(body_shape(NewChargePoint), None, ["id=CP1", "profile=2"])
    assert str(raised.value) == (
        "--field profile: no such field; the body has generate_password, id, password, "
        "registration, security_profile"
    )


def test_a_missing_required_field_is_refused_before_sending() -> None:
    with pytest.raises(
        BodyError, match=r"^the body is not valid: Object missing required field `id`"
    ):
        build_body(body_shape(NewChargePoint), None, ["password=0123456789abcdef"])


def test_colon_equals_takes_json_so_a_text_field_can_be_cleared() -> None:
    body = build_body(body_shape(IdTagChange), None, ["owner:=null", "label=null"])
    assert body == {"owner": None, "label": "null"}


def test_a_list_field_is_read_as_json() -> None:
    from chargedeck.server.api.configuration_memory import BulkRequest

    body = build_body(
        body_shape(BulkRequest), None, ['charge_point_ids=["A","B"]', 'payload={"type":"Soft"}']
    )
    assert body == {"charge_point_ids": ["A", "B"], "payload": {"type": "Soft"}}


def test_fields_are_set_over_the_body_option() -> None:
    body = build_body(
        body_shape(NewChargePoint), '{"id": "CP1", "security_profile": 1}', ["id=CP2"]
    )
    assert body == {"id": "CP2", "security_profile": 1}


def test_the_body_option_reads_a_file(tmp_path: Path) -> None:
    file = tmp_path / "body.json"
    file.write_text('{"id": "CP9"}', encoding="utf-8")
    assert build_body(body_shape(NewChargePoint), f"@{file}", []) == {"id": "CP9"}


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(BodyError, match=r"^--body must be a JSON object, got list$"):
        build_body(body_shape(NewChargePoint), "[1]", [])


def test_a_missing_body_file_is_named() -> None:
    with pytest.raises(BodyError, match=r"^cannot read --body file /nonexistent/b.json: "):
        build_body(body_shape(NewChargePoint), "@/nonexistent/b.json", [])


def test_a_tagged_union_takes_its_tag_as_a_field() -> None:
    shape = body_shape(ReadingBody)
    assert build_body(shape, None, ["kind=solar", "power_w=3500.5"]) == {
        "kind": "solar",
        "power_w": 3500.5,
    }
    with pytest.raises(BodyError, match="the body is not valid"):
        build_body(shape, None, ["kind=wind", "power_w=1"])
    assert fields_help(shape).startswith("kind=grid: l1_a (number, required)")


def test_an_ocpp_payload_is_typed_by_its_action_in_camel_case() -> None:
    shape = body_shape(dict[str, object], RemoteStartTransactionRequest)
    body = build_body(shape, None, ["idTag=0042", "connector_id=1"])
    assert body == {"idTag": "0042", "connectorId": 1}


def test_a_free_body_reads_json_where_it_parses() -> None:
    body = build_body(body_shape(dict[str, object]), None, ["a=1", "b=text", "c:=[1]"])
    assert body == {"a": 1, "b": "text", "c": [1]}


def test_a_field_without_equals_is_refused() -> None:
    with pytest.raises(BodyError, match=r"^--field 'blocked': expected NAME=VALUE$"):
        build_body(body_shape(NewIdTag), None, ["blocked"])


def _shown(body: object, response_type: object) -> str:
    console = Console(width=200, record=True, markup=False, highlight=False)
    show_answer(console, body, response_type)
    return console.export_text()


def test_a_page_is_a_table_with_the_view_columns_that_have_values() -> None:
    assert item_fields(Page[ChargePointView])[:3] == ["id", "registration", "vendor"]
    text = _shown(
        {
            "items": [
                {"id": "CP1", "registration": "registered", "vendor": None, "connection": {"a": 1}}
            ],
            "next_cursor": "42",
        },
        Page[ChargePointView],
    )
    header = text.splitlines()[1]
    assert header.split() == ["┃", "id", "┃", "registration", "┃", "connection", "┃"]
    assert '{"a":1}' in text
    assert "more: add --param cursor=42" in text


def test_one_object_is_a_field_value_table_with_its_lists_as_tables() -> None:
    text = _shown(
        {"id": 7, "meter_values": [{"at": "t1", "wh": 10}, {"at": "t2", "wh": 20}]},
        msgspec.Struct,
    )
    assert "│ id    │ 7     │" in text
    assert "meter_values:" in text.splitlines()
    assert "│ t2 │ 20 │" in text
