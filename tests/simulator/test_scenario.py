"""Scenario files of ``chargedeck simulate``: what a good file means, and that every mistake is
refused with the file, the step number and the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargedeck.simulator.ev import EvModel
from chargedeck.simulator.scenario import (
    DEFAULT_CSMS_URL,
    Action,
    FleetSpec,
    ScenarioError,
    Step,
    load_scenario,
    parse_scenario,
    scenario_from_flags,
    with_overrides,
)

GOOD = """
[fleet]
csms_url = "wss://csms.example:9443/ocpp"
id_pattern = "GARAGE-{n:02d}"
count = 3
model = "generic"
password = "a-password-of-16+"
ca_file = "ca.pem"
connectors = 2
meter_interval_s = 10
duration_s = 120
ramp_s = 1.5

[fleet.ev]
battery_kwh = 40
max_current_a = 16
phases = 1
start_soc = 0.5

[[steps]]
at = 0
action = "wait"
state = "Available"

[[steps]]
at = 1
action = "plug_in"
chargers = [1, 3]
connector = 2

[[steps]]
at = 2
action = "tap"
card = "04 a2 2b 1a"
chargers = 2

[[steps]]
at = 30
action = "go_offline"
every = 60
until = 300

[[steps]]
at = 40
action = "fault"
error_code = "HighTemperature"
"""


def refusal(text: str) -> str:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text, "fleet.toml")
    return str(raised.value)


def test_a_good_file_describes_the_fleet() -> None:
    scenario = parse_scenario(GOOD, "fleet.toml", base_dir=Path("/etc/sim"))
    assert scenario.fleet == FleetSpec(
        csms_url="wss://csms.example:9443/ocpp",
        id_pattern="GARAGE-{n:02d}",
        count=3,
        model="generic",
        password="a-password-of-16+",
        ca_file="/etc/sim/ca.pem",
        connectors=2,
        meter_interval_s=10.0,
        ev=EvModel(battery_kwh=40.0, max_current_a=16.0, phases=1, start_soc=0.5),
        duration_s=120.0,
        ramp_s=1.5,
    )
    assert scenario.fleet.charge_point_ids == ["GARAGE-01", "GARAGE-02", "GARAGE-03"]


def test_a_good_file_lists_its_steps_in_order() -> None:
    steps = parse_scenario(GOOD, "fleet.toml").steps
    assert [(s.number, s.at_s, s.action) for s in steps] == [
        (1, 0.0, Action.WAIT),
        (2, 1.0, Action.PLUG_IN),
        (3, 2.0, Action.TAP),
        (4, 30.0, Action.GO_OFFLINE),
        (5, 40.0, Action.FAULT),
    ]
    assert steps[0].state == "Available"
    assert steps[1].connector_id == 2
    assert (steps[3].every_s, steps[3].until_s) == (60.0, 300.0)
    assert steps[4].error_code == "HighTemperature"


def test_a_card_is_kept_as_printed_in_one_spelling() -> None:
    tap = parse_scenario(GOOD, "fleet.toml").steps[2]
    assert tap.card == "04:A2:2B:1A"


def test_chargers_are_all_a_count_of_the_first_or_numbers() -> None:
    steps = parse_scenario(GOOD, "fleet.toml").steps
    assert steps[0].charger_numbers(3) == (1, 2, 3)
    assert steps[1].charger_numbers(3) == (1, 3)
    assert steps[2].charger_numbers(3) == (1, 2)


def test_an_empty_file_is_one_charger_on_the_local_chargedeck() -> None:
    scenario = parse_scenario("", "empty.toml")
    assert scenario.fleet.csms_url == DEFAULT_CSMS_URL == "ws://127.0.0.1:9000/ocpp"
    assert scenario.fleet.charge_point_ids == ["SIM-0001"]
    assert scenario.steps == ()


def test_the_password_is_not_in_the_fleets_repr() -> None:
    assert "a-password-of-16+" not in repr(parse_scenario(GOOD, "fleet.toml"))


def test_an_unreadable_file_is_named() -> None:
    with pytest.raises(ScenarioError, match=r"^/nowhere/fleet\.toml: cannot read it: "):
        load_scenario(Path("/nowhere/fleet.toml"))


def test_a_file_that_is_not_toml_is_named_with_the_line() -> None:
    message = refusal("[fleet]\ncount = = 3\n")
    assert message.startswith("fleet.toml: not valid TOML: ")
    assert "line 2" in message


def test_a_misspelt_action_is_an_error_naming_the_step_and_field() -> None:
    message = refusal(
        '[[steps]]\nat = 0\naction = "wait"\nstate = "Connected"\n'
        '[[steps]]\nat = 1\naction = "plugin"\n'
    )
    assert message == (
        "fleet.toml: step 2: action: 'plugin' is not one of plug_in, tap, unplug, go_offline, "
        "go_online, fault, wait; did you mean 'plug_in'?"
    )


def test_a_step_without_an_action_is_an_error() -> None:
    assert refusal("[[steps]]\nat = 0\n").startswith("fleet.toml: step 1: action: missing")


def test_an_unknown_field_of_a_step_is_an_error_not_ignored() -> None:
    message = refusal('[[steps]]\nat = 0\naction = "tap"\ncrad = "04:A2:2B:1A"\n')
    assert message.startswith("fleet.toml: step 1 (tap): crad: unknown field for tap")
    assert message.endswith("did you mean 'card'?")


def test_a_field_of_another_action_is_an_error() -> None:
    message = refusal('[[steps]]\nat = 0\naction = "unplug"\ncard = "04:A2:2B:1A"\n')
    assert message.startswith("fleet.toml: step 1 (unplug): card: unknown field for unplug")


def test_an_unknown_fleet_field_is_an_error() -> None:
    message = refusal('[fleet]\npasword = "x"\n')
    assert message.startswith("fleet.toml: [fleet] pasword: unknown field")
    assert message.endswith("did you mean 'password'?")


def test_an_unknown_table_is_an_error() -> None:
    assert refusal("[flet]\n").startswith("fleet.toml: flet: unknown field")


def test_an_unknown_ev_field_is_an_error() -> None:
    assert refusal("[fleet.ev]\nbattery = 60\n").startswith(
        "fleet.toml: [fleet.ev] battery: unknown field"
    )


def test_a_value_of_the_wrong_type_is_an_error_saying_what_was_expected() -> None:
    assert refusal('[fleet]\ncount = "three"\n') == (
        "fleet.toml: [fleet] count: must be a whole number from 1 to 100000, not 'three'"
    )


def test_a_fraction_out_of_range_is_an_error() -> None:
    assert refusal("[fleet.ev]\nstart_soc = 20\n").startswith(
        "fleet.toml: [fleet.ev] start_soc: must be a fraction from 0 to 1"
    )


def test_an_unknown_model_is_an_error() -> None:
    assert refusal('[fleet]\nmodel = "walbox"\n') == (
        "fleet.toml: [fleet] model: 'walbox' is not one of wallbox, generic; "
        "did you mean 'wallbox'?"
    )


def test_a_url_that_is_not_websocket_is_an_error() -> None:
    assert refusal('[fleet]\ncsms_url = "http://127.0.0.1:9000/ocpp"\n').startswith(
        "fleet.toml: [fleet] csms_url: 'http://127.0.0.1:9000/ocpp' must start with ws://"
    )


def test_an_id_pattern_without_the_number_is_an_error() -> None:
    assert refusal('[fleet]\nid_pattern = "SIM"\n').startswith(
        "fleet.toml: [fleet] id_pattern: 'SIM' must hold the charger number once as {n}"
    )


def test_an_id_pattern_reaching_into_the_number_is_an_error() -> None:
    assert "no other {field}" in refusal('[fleet]\nid_pattern = "{n.__class__}"\n')


def test_an_id_pattern_giving_ids_a_charger_cannot_have_is_an_error() -> None:
    assert "contains '/'" in refusal('[fleet]\nid_pattern = "a/{n}"\n')


def test_a_tap_without_a_card_is_an_error() -> None:
    assert refusal('[[steps]]\nat = 0\naction = "tap"\n').startswith(
        "fleet.toml: step 1 (tap): card: missing"
    )


def test_a_card_that_is_no_uid_is_an_error() -> None:
    assert refusal('[[steps]]\nat = 0\naction = "tap"\ncard = "12:34"\n').startswith(
        "fleet.toml: step 1 (tap): card: a card UID has 4, 7 or 10 bytes"
    )


def test_a_step_without_a_time_is_an_error() -> None:
    assert refusal('[[steps]]\naction = "unplug"\n').startswith(
        "fleet.toml: step 1 (unplug): at: missing"
    )


def test_a_negative_time_is_an_error() -> None:
    assert refusal('[[steps]]\nat = -1\naction = "unplug"\n').startswith(
        "fleet.toml: step 1 (unplug): at: must be a number of seconds, 0 or more"
    )


def test_steps_out_of_time_order_are_an_error() -> None:
    message = refusal(
        '[[steps]]\nat = 10\naction = "plug_in"\n[[steps]]\nat = 5\naction = "unplug"\n'
    )
    assert message.startswith("fleet.toml: step 2 (unplug): at: 5 s comes before the 10 s")


def test_a_charger_beyond_the_fleet_is_an_error() -> None:
    message = refusal('[fleet]\ncount = 2\n[[steps]]\nat = 0\naction = "unplug"\nchargers = [3]\n')
    assert message.startswith("fleet.toml: step 1 (unplug): chargers: 3 is beyond the fleet of 2")


def test_a_charger_number_zero_is_an_error() -> None:
    message = refusal('[[steps]]\nat = 0\naction = "unplug"\nchargers = [0]\n')
    assert message.startswith("fleet.toml: step 1 (unplug): chargers: 0 is not a charger number")


def test_a_connector_the_chargers_do_not_have_is_an_error() -> None:
    message = refusal('[[steps]]\nat = 0\naction = "plug_in"\nconnector = 2\n')
    assert message.startswith("fleet.toml: step 1 (plug_in): connector: 2, but the chargers have 1")


def test_a_wait_needs_a_known_state() -> None:
    assert refusal('[[steps]]\nat = 0\naction = "wait"\n').startswith(
        "fleet.toml: step 1 (wait): state: missing"
    )
    assert refusal('[[steps]]\nat = 0\naction = "wait"\nstate = "Online"\n').startswith(
        "fleet.toml: step 1 (wait): state: 'Online' is not one of Connecting, Connected"
    )


def test_a_wait_does_not_repeat() -> None:
    message = refusal('[[steps]]\nat = 0\naction = "wait"\nstate = "Connected"\nevery = 5\n')
    assert message.startswith("fleet.toml: step 1 (wait): every: unknown field for wait")


def test_until_goes_only_with_every() -> None:
    assert refusal('[[steps]]\nat = 0\naction = "unplug"\nuntil = 5\n').startswith(
        "fleet.toml: step 1 (unplug): until: only goes with every"
    )


def test_an_unknown_error_code_is_an_error() -> None:
    message = refusal('[[steps]]\nat = 0\naction = "fault"\nerror_code = "Smoke"\n')
    assert message.startswith("fleet.toml: step 1 (fault): error_code: 'Smoke' is not one of")


def test_flags_without_actions_make_a_run_that_only_connects() -> None:
    assert scenario_from_flags(FleetSpec(count=2)).steps == ()


def test_plug_in_and_tap_flags_wait_for_the_boot_to_be_accepted_first() -> None:
    steps = scenario_from_flags(FleetSpec(), plug_in=True, tap_card="04a22b1a").steps
    assert steps == (
        Step(1, 0.0, Action.WAIT, state="Accepted"),
        Step(2, 0.0, Action.PLUG_IN),
        Step(3, 0.0, Action.TAP, card="04:A2:2B:1A"),
    )


def test_a_bad_flag_is_named_as_the_flag() -> None:
    with pytest.raises(ScenarioError, match=r"^--id-pattern: 'X' must hold"):
        scenario_from_flags(FleetSpec(id_pattern="X"))
    with pytest.raises(ScenarioError, match=r"^CSMS_URL: 'ftp://x' must start with ws://"):
        scenario_from_flags(FleetSpec(csms_url="ftp://x"))


def test_flags_override_the_file_and_are_checked_against_its_steps() -> None:
    scenario = parse_scenario(GOOD, "fleet.toml")
    assert with_overrides(scenario, count=5, model=None).fleet.count == 5
    with pytest.raises(
        ScenarioError,
        match=r"^fleet\.toml: step 2 \(plug_in\): chargers: 3 is "
        r"beyond the fleet of 2 \(--count;",
    ):
        with_overrides(scenario, count=2)
