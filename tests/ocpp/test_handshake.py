"""Opening-handshake rules: charge point id from the URL, subprotocol choice (OCPP-J 1.6 §3)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from chargedeck.ocpp.handshake import (
    HandshakeRefused,
    SubprotocolChoice,
    choose_subprotocol,
    parse_charge_point_id,
)


def test_the_id_is_the_last_path_segment() -> None:
    assert parse_charge_point_id("/ocpp/CP_1") == "CP_1"


def test_the_id_is_percent_decoded() -> None:
    assert parse_charge_point_id("/ocppj/RDAM%20123") == "RDAM 123"


def test_a_trailing_slash_is_tolerated() -> None:
    assert parse_charge_point_id("/ocpp/CP_1/") == "CP_1"


def test_a_query_string_is_not_part_of_the_id() -> None:
    assert parse_charge_point_id("/ocpp/CP_1?x=1") == "CP_1"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/", "no charge point id"),
        ("/ocpp/" + "x" * 49, "at most 48"),
        ("/ocpp/a%2Fb", "contains '/'"),
        ("/ocpp/a%0Ab", "unprintable"),
        ("/ocpp/%FF", "percent-encoded UTF-8"),
    ],
)
def test_bad_ids_are_refused_with_400_and_a_reason(path: str, reason: str) -> None:
    with pytest.raises(HandshakeRefused) as refused:
        parse_charge_point_id(path)
    assert refused.value.status is HTTPStatus.BAD_REQUEST
    assert reason in refused.value.reason


def test_ocpp16_is_chosen_from_the_offered_list() -> None:
    assert choose_subprotocol(["ocpp2.0.1", "ocpp1.6"]) is SubprotocolChoice.OCPP16


def test_other_versions_only_are_not_accepted() -> None:
    assert choose_subprotocol(["ocpp1.5", "ocpp2.0.1"]) is SubprotocolChoice.NOT_OFFERED


def test_no_subprotocol_at_all_is_taken_as_16() -> None:
    assert choose_subprotocol([]) is SubprotocolChoice.NONE_OFFERED
