"""The charger-model table: recognising a model from its BootNotification, and its facts."""

from __future__ import annotations

import pytest

from chargedeck.domain.card_uids import ByteOrder
from chargedeck.domain.charger_models import CHARGER_MODELS, GENERIC_OCPP16, model_for
from chargedeck.domain.masking import is_secret_configuration_key


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("PLP1-0-2-4", "Wallbox Pulsar (Plus/Max)"),
        ("PLP1-M-2-4", "Wallbox Pulsar (Plus/Max)"),
        ("PLP2-M-2-4", "Wallbox Pulsar (Plus/Max)"),
        ("PUP1-U-1-6", "Wallbox Pulsar (Plus/Max)"),
        ("PPR1-0-2-4", "Wallbox Pulsar Pro"),
        ("CMX2-0-2-4", "Wallbox Commander 2"),
        ("CPB1-S-2-4", "Wallbox Copper SB"),
        ("QSX1-0-0-0", "Wallbox Quasar (1/2)"),
    ],
)
def test_a_wallbox_is_recognised_by_the_model_strings_seen_in_the_field(
    model: str, name: str
) -> None:
    assert model_for("Wall Box Chargers", model).name == name


def test_vendor_and_model_are_compared_ignoring_case_and_surrounding_spaces() -> None:
    assert model_for(" wall box chargers ", "plp1-0-2-4").name == "Wallbox Pulsar (Plus/Max)"


def test_a_wallbox_of_an_unlisted_model_still_gets_the_wallbox_rules() -> None:
    model = model_for("Wall Box Chargers", "ZZZ9-0-0-0")
    assert model.name == "Wallbox (other model)"
    assert model.uid_byte_order is ByteOrder.REVERSED


def test_an_unknown_vendor_is_a_generic_ocpp_charger() -> None:
    assert model_for("ACME", "PLP1-0-2-4") is GENERIC_OCPP16


def test_a_wallbox_reads_card_uids_little_endian() -> None:
    assert model_for("Wall Box Chargers", "PLP1-0-2-4").uid_byte_order is ByteOrder.REVERSED


def test_a_generic_charger_sends_card_uids_as_printed() -> None:
    assert GENERIC_OCPP16.uid_byte_order is ByteOrder.AS_PRINTED


def test_a_wallbox_takes_whole_amps_from_6_a() -> None:
    model = model_for("Wall Box Chargers", "PPR1-0-2-4")
    assert (model.whole_amps, model.min_current_a) == (True, 6)


def test_a_wallbox_is_not_capped_at_32_a_by_the_table() -> None:
    assert model_for("Wall Box Chargers", "PLP1-0-2-4").max_current_a >= 48


def test_a_wallbox_with_auth_disabled_sends_no_authorization() -> None:
    assert model_for("Wall Box Chargers", "CMX2-0-2-4").placeholder_id_tag == "NoAuthorization"


def test_a_generic_charger_has_no_placeholder_id_tag() -> None:
    assert GENERIC_OCPP16.placeholder_id_tag is None


def test_no_model_reserves_connector_zero_unless_the_charger_says_so() -> None:
    assert not any(model.supports_connector_zero_reservation for model in CHARGER_MODELS)


def test_every_secret_key_of_a_model_is_masked() -> None:
    secrets = [key for model in CHARGER_MODELS for key in model.secret_configuration_keys]
    assert secrets
    assert all(is_secret_configuration_key(key) for key in secrets)


def test_the_generic_row_is_last_so_that_every_specific_row_is_reachable() -> None:
    assert CHARGER_MODELS[-1] is GENERIC_OCPP16
    assert all(model.vendor is not None for model in CHARGER_MODELS[:-1])


def test_current_bounds_are_consistent_in_every_row() -> None:
    assert all(0 < model.min_current_a < model.max_current_a for model in CHARGER_MODELS)
