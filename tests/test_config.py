"""Settings: defaults < file < environment < flags, and loud failures (DESIGN §10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargedeck.config import SettingsError, build_settings, parse_flag_args
from chargedeck.domain.charge_points import UnknownChargePointPolicy


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    settings = build_settings(config_file=None, environ={})
    assert (settings.ocpp_host, settings.ocpp_port) == ("0.0.0.0", 9000)
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8000)
    assert settings.database_url == "sqlite:///./chargedeck.db"
    assert settings.unknown_charge_points is UnknownChargePointPolicy.INBOX


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    file = tmp_path / "chargedeck.toml"
    file.write_text('ocpp_port = 9100\nhttp_port = 8100\nunknown_charge_points = "accept"\n')
    settings = build_settings(
        config_file=file,
        environ={"CHARGEDECK_OCPP_PORT": "9200", "CHARGEDECK_HTTP_PORT": "8200"},
        flags=parse_flag_args(["--http-port", "8300"]),
    )
    assert settings.ocpp_port == 9200
    assert settings.http_port == 8300
    assert settings.unknown_charge_points is UnknownChargePointPolicy.ACCEPT


def test_a_bad_value_names_key_value_and_expectation() -> None:
    with pytest.raises(SettingsError) as error:
        build_settings(config_file=None, environ={"CHARGEDECK_OCPP_PORT": "ninety"})
    message = str(error.value)
    assert "CHARGEDECK_OCPP_PORT" in message
    assert "'ninety'" in message
    assert "port number" in message


def test_an_unknown_policy_lists_the_allowed_ones() -> None:
    with pytest.raises(SettingsError, match="inbox, accept, reject"):
        build_settings(config_file=None, environ={}, flags={"unknown_charge_points": "maybe"})


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "chargedeck.toml"
    file.write_text("ocpp_prot = 1\n")
    with pytest.raises(SettingsError, match="unknown setting 'ocpp_prot'"):
        build_settings(config_file=file, environ={})


def test_an_unknown_flag_is_refused() -> None:
    with pytest.raises(SettingsError, match="unknown option --ocpp-prot"):
        parse_flag_args(["--ocpp-prot", "1"])


def test_an_unsupported_database_url_is_refused() -> None:
    with pytest.raises(SettingsError, match="database_url"):
        build_settings(config_file=None, environ={"CHARGEDECK_DATABASE_URL": "mysql://x/y"})


def test_the_operators_time_zone_must_be_a_known_iana_zone() -> None:
    assert (
        build_settings(
            config_file=None, environ={"CHARGEDECK_TIME_ZONE": "Europe/Madrid"}
        ).time_zone
        == "Europe/Madrid"
    )
    with pytest.raises(SettingsError, match="expected an IANA time zone"):
        build_settings(config_file=None, environ={"CHARGEDECK_TIME_ZONE": "Mars/Base"})


def test_security_settings_are_checked() -> None:
    with pytest.raises(SettingsError, match="min_security_profile"):
        build_settings(config_file=None, environ={"CHARGEDECK_MIN_SECURITY_PROFILE": "4"})


def test_ftp_is_off_unless_enabled_and_takes_true_or_false() -> None:
    assert build_settings(config_file=None, environ={}).ftp_enabled is False
    flags = {"ftp_enabled": "true", "ftp_port": "0"}
    settings = build_settings(environ={"CHARGEDECK_FTP_ENABLED": "false"}, flags=flags)
    assert (settings.ftp_enabled, settings.ftp_port, settings.ftp_host) == (True, 0, "")
    with pytest.raises(SettingsError, match=r"--ftp-enabled: ftp_enabled='maybe'.*true or false"):
        build_settings(environ={}, flags={"ftp_enabled": "maybe"})
