"""Standard 1.6 configuration keys (§9): checks before ChangeConfiguration, diffs, drift."""

from __future__ import annotations

from chargedeck.domain.configuration_keys import (
    DriftState,
    SnapshotKey,
    check_wanted_value,
    diff_snapshots,
    drift,
)
from chargedeck.domain.masking import MASK


def test_a_read_only_standard_key_is_refused_with_the_reason() -> None:
    refusal = check_wanted_value("NumberOfConnectors", "2")
    assert refusal is not None
    assert "read-only" in refusal


def test_a_key_the_charger_reported_read_only_is_refused() -> None:
    refusal = check_wanted_value("AuthorizeRemoteTxRequests", "true", reported_readonly=True)
    assert refusal is not None
    assert "read-only" in refusal


def test_heartbeat_interval_must_be_a_whole_number_of_seconds() -> None:
    assert check_wanted_value("HeartbeatInterval", "300") is None
    refusal = check_wanted_value("HeartbeatInterval", "5 min")
    assert refusal is not None
    assert "whole number (s)" in refusal
    assert check_wanted_value("heartbeatinterval", "-1") is not None


def test_booleans_are_true_or_false_in_any_case() -> None:
    assert check_wanted_value("LocalAuthorizeOffline", "TRUE") is None
    refusal = check_wanted_value("LocalAuthorizeOffline", "yes")
    assert refusal is not None
    assert "true or false" in refusal


def test_meter_values_sampled_data_is_a_list_of_measurands_with_optional_phase() -> None:
    assert (
        check_wanted_value(
            "MeterValuesSampledData", "Energy.Active.Import.Register,Current.Import.L1,Voltage"
        )
        is None
    )
    refusal = check_wanted_value("MeterValuesSampledData", "Energy.Active.Import.Register,Watts")
    assert refusal is not None
    assert "'Watts'" in refusal


def test_unknown_vendor_keys_are_allowed_as_text() -> None:
    assert check_wanted_value("AuthEnabled", "anything") is None


def test_diff_shows_added_removed_and_changed_keys_with_secrets_masked() -> None:
    before = [
        SnapshotKey("HeartbeatInterval", "60", False),
        SnapshotKey("BlinkRepeat", "3", False),
        SnapshotKey("WebSocketPassword", "old-secret", False),
    ]
    after = [
        SnapshotKey("HeartbeatInterval", "300", False),
        SnapshotKey("WebSocketPassword", "new-secret", False),
        SnapshotKey("AuthorizationKey", "0123456789abcdef", False),
    ]
    diff = diff_snapshots(before, after)
    assert [(c.key, c.before, c.after) for c in diff.changed] == [
        ("HeartbeatInterval", "60", "300")
    ]
    assert [(k.key, k.value) for k in diff.added] == [("AuthorizationKey", MASK)]
    assert [k.key for k in diff.removed] == ["BlinkRepeat"]
    assert "secret" not in repr(diff)
    assert "0123456789abcdef" not in repr(diff)


def test_drift_compares_wanted_with_reported_values() -> None:
    entries = drift(
        {"HeartbeatInterval": "300", "LocalAuthorizeOffline": "true", "LightIntensity": "50"},
        {"heartbeatinterval": "60", "LocalAuthorizeOffline": "True"},
    )
    assert {e.key: e.state for e in entries} == {
        "HeartbeatInterval": DriftState.DIFFERS,
        "LightIntensity": DriftState.MISSING,
        "LocalAuthorizeOffline": DriftState.MATCHES,
    }


def test_drift_of_a_secret_is_unknown_and_masked() -> None:
    (entry,) = drift({"AuthorizationKey": "wanted-secret"}, {"AuthorizationKey": "reported"})
    assert entry.state is DriftState.UNKNOWN
    assert (entry.wanted, entry.reported) == (MASK, MASK)


def test_wifi_passwords_and_sim_pins_are_secrets_but_ping_intervals_are_not() -> None:
    from chargedeck.domain.masking import is_secret_configuration_key

    assert is_secret_configuration_key("WifiPassword")
    assert is_secret_configuration_key("SimPin")
    assert not is_secret_configuration_key("WebSocketPingInterval")
