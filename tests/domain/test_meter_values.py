"""Reading the energy register from sampled values (OCPP 1.6 §7.33 defaults)."""

from __future__ import annotations

from chargedeck.domain.meter_values import current_offered_a, energy_import_register_wh


def test_absent_measurand_and_unit_mean_the_import_register_in_wh() -> None:
    assert energy_import_register_wh(None, None, None, "532218.4") == 532218


def test_wh_are_rounded_half_up() -> None:
    assert energy_import_register_wh(None, "Wh", None, "1500.5") == 1501
    assert energy_import_register_wh(None, "Wh", None, "1500.49") == 1500


def test_kwh_is_converted_to_wh() -> None:
    assert energy_import_register_wh("Energy.Active.Import.Register", "kWh", None, "1.5") == 1500


def test_other_measurands_are_not_the_register() -> None:
    assert energy_import_register_wh("Power.Active.Import", "W", None, "11004.3") is None


def test_per_phase_registers_are_skipped() -> None:
    assert energy_import_register_wh(None, "Wh", "L1", "100") is None


def test_a_value_that_is_not_a_number_is_not_a_reading() -> None:
    assert energy_import_register_wh(None, None, None, "n/a") is None
    assert energy_import_register_wh(None, None, None, "nan") is None


def test_current_offered_is_read_in_amps_and_absent_otherwise() -> None:
    offered = ("Current.Offered", "A", None, "13.5")
    drawn = ("Current.Import", "A", "L1", "16")
    assert current_offered_a([drawn, offered]) == 13.5
    assert current_offered_a([drawn]) is None
    assert current_offered_a([("Current.Offered", "W", None, "3000")]) is None
    assert current_offered_a([("Current.Offered", None, None, "n/a")]) is None
