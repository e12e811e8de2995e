"""What crosses between nodes keeps its meaning: presence keys, routed errors, start-up checks.

No processes: the functions server/cluster.py uses on each side of a NATS request.
"""

from __future__ import annotations

import pytest

from chargedeck.config import Settings
from chargedeck.csms.commands import (
    ChargePointNotConnected,
    CommandNotAllowed,
    UnknownChargePoint,
)
from chargedeck.csms.stations import ChargePointDisconnected, NodeTimeout, NodeUnreachable
from chargedeck.ocpp.errors import CallErrorReceived, CallTimeout, InvalidResponse
from chargedeck.server.api.common import ApiProblem, charger_errors
from chargedeck.server.cluster import (
    RouteReply,
    cluster_settings_problem,
    parse_presence_key,
    presence_key,
    raise_reply_error,
    reply_for_error,
)
from tests.cluster.conftest import NATS_URL


def routed(exc: Exception) -> BaseException:
    """``exc`` raised on the holding node, as the asking node raises it."""
    reply: RouteReply = reply_for_error(exc)
    try:
        raise_reply_error(reply, "CP-1", "n3", "Reset")
    except Exception as raised:  # noqa: BLE001 - the test inspects whatever comes out
        return raised


@pytest.mark.parametrize(
    "charge_point_id", ["CP-1", "CP:1.2", "ünïcode-Ω", "a b+c=d", "x" * 48, "~!@#$%^&*()"]
)
def test_a_presence_key_holds_any_charge_point_id_and_gives_it_back(charge_point_id: str) -> None:
    key = presence_key(charge_point_id)
    assert all(c.isalnum() or c in "-_" for c in key)  # NATS KV keys: [-/_=.a-zA-Z0-9]
    assert parse_presence_key(key) == charge_point_id


def test_a_presence_key_no_node_wrote_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="is not a base64url charge point id"):
        parse_presence_key("_w")  # one byte 0xff: not UTF-8


def test_a_call_error_of_the_charger_keeps_its_code_description_and_details() -> None:
    error = routed(CallErrorReceived("Reset", "NotSupported", "no soft reset", {"why": 1}))
    assert isinstance(error, CallErrorReceived)
    assert (error.action, error.code, error.description, error.details) == (
        "Reset",
        "NotSupported",
        "no soft reset",
        {"why": 1},
    )


def test_a_charger_time_out_on_the_holding_node_is_a_call_time_out_here() -> None:
    error = routed(CallTimeout("Reset", "42", 30.0))
    assert isinstance(error, CallTimeout)
    assert (error.message_id, error.timeout_s) == ("42", 30.0)


def test_an_invalid_answer_of_the_charger_stays_an_invalid_response() -> None:
    error = routed(InvalidResponse("Reset", "field status is missing"))
    assert isinstance(error, InvalidResponse)
    assert error.description == "field status is missing"


def test_a_refused_command_keeps_the_holding_nodes_sentence() -> None:
    error = routed(CommandNotAllowed("charge point 'CP-1' has not sent BootNotification"))
    assert isinstance(error, CommandNotAllowed)
    assert str(error) == "charge point 'CP-1' has not sent BootNotification"


def test_an_unknown_charge_point_stays_unknown() -> None:
    assert isinstance(routed(UnknownChargePoint("CP-1")), UnknownChargePoint)


@pytest.mark.parametrize("exc", [ChargePointDisconnected("CP-1"), ChargePointNotConnected("CP-1")])
def test_a_charger_gone_from_the_holding_node_is_disconnected_here(exc: Exception) -> None:
    error = routed(exc)
    assert type(error) is ChargePointDisconnected


def test_a_failure_of_the_holding_node_names_the_node_and_the_action() -> None:
    error = routed(RuntimeError("boom"))
    assert isinstance(error, NodeUnreachable)
    assert str(error) == (
        "charge point 'CP-1' is connected to node 'n3', which cannot be reached: "
        "it failed handling Reset (RuntimeError: boom)"
    )


def test_a_cluster_needs_a_postgresql_database() -> None:
    settings = Settings(cluster_url=NATS_URL, database_url="sqlite:///./chargedeck.db")
    assert cluster_settings_problem(settings) == (
        "cluster_url is set but database_url is sqlite:…; the nodes of a cluster share one "
        "PostgreSQL database (postgresql://…)"
    )


def test_a_node_name_must_fit_in_a_nats_subject() -> None:
    settings = Settings(
        cluster_url=NATS_URL, database_url="postgresql://db/chargedeck", node_name="node.1"
    )
    assert cluster_settings_problem(settings) == (
        "node_name='node.1': expected 1-64 letters, digits, '-' or '_' "
        "(it is part of NATS subject names)"
    )


def test_postgresql_and_a_plain_node_name_make_a_node() -> None:
    settings = Settings(
        cluster_url=NATS_URL, database_url="postgresql://db/chargedeck", node_name="node-1"
    )
    assert cluster_settings_problem(settings) is None


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (NodeUnreachable("CP-1", "n3", "it is not running"), 503, "node-unreachable"),
        (NodeTimeout("CP-1", "n3", "Reset", 65.0), 504, "node-timeout"),
        (ChargePointDisconnected("CP-1"), 409, "charge-point-not-connected"),
        (CallTimeout("Reset", "7", 30.0), 504, "charge-point-timeout"),
    ],
)
def test_the_api_answers_a_node_failure_apart_from_a_charger_failure(
    exc: Exception, status: int, kind: str
) -> None:
    with pytest.raises(ApiProblem) as raised, charger_errors():
        raise exc
    assert (int(raised.value.status), raised.value.kind) == (status, kind)
    assert str(raised.value) == str(exc)


def test_a_node_time_out_says_the_charger_may_have_received_the_request() -> None:
    assert str(NodeTimeout("CP-1", "n3", "Reset", 65.0)) == (
        "node 'n3', which holds charge point 'CP-1', did not answer Reset within 65 s; "
        "the charger may or may not have received it"
    )
