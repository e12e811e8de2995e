"""``chargedeck webhooks add|list|remove|deliveries`` on the store directly (like ``chargedeck
sites``), run in this process through typer's CliRunner on a fresh SQLite file per test."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from chargedeck.cli import app


def chargedeck(*args: str, folder: Path) -> Result:
    env = {"CHARGEDECK_DATABASE_URL": f"sqlite:///{folder / 'chargedeck.db'}"}
    return CliRunner().invoke(app, list(args), env=env)


def ok(*args: str, folder: Path) -> str:
    result = chargedeck(*args, folder=folder)
    assert result.exit_code == 0, result.output
    return result.stdout


def sentence(text: str) -> str:
    return " ".join(text.split())


def test_a_webhook_added_from_the_cli_is_listed_without_its_secret_and_removed(
    tmp_path: Path,
) -> None:
    added = json.loads(
        ok(
            "webhooks",
            "add",
            "home-assistant",
            "http://192.168.1.20:8123/api/webhook/chargedeck",
            "--events",
            "connector.status,transaction.started",
            "--charge-point",
            "WB1",
            "--json",
            folder=tmp_path,
        )
    )
    assert added["secret"].startswith("whsec_")
    assert added["event_types"] == ["connector.status", "transaction.started"]
    [listed] = json.loads(ok("webhooks", "list", "--json", folder=tmp_path))
    assert listed == {k: v for k, v in added.items() if k != "secret"}
    table = ok("webhooks", "list", folder=tmp_path)
    assert added["secret"] not in table
    assert "WB1" in table
    assert (
        json.loads(ok("webhooks", "deliveries", "home-assistant", "--json", folder=tmp_path)) == []
    )
    removed = ok("webhooks", "remove", str(added["id"]), folder=tmp_path)
    assert removed == f"removed webhook home-assistant (id {added['id']})\n"
    assert json.loads(ok("webhooks", "list", "--json", folder=tmp_path)) == []


def test_the_cli_refuses_a_bad_webhook_with_a_sentence(tmp_path: Path) -> None:
    bad_url = chargedeck("webhooks", "add", "x", "mqtt://broker/", folder=tmp_path)
    bad_type = chargedeck(
        "webhooks", "add", "x", "http://h/", "--events", "charger.exploded", folder=tmp_path
    )
    unknown = chargedeck("webhooks", "remove", "nothing", folder=tmp_path)
    bad_limit = chargedeck("webhooks", "deliveries", "x", "--limit", "0", folder=tmp_path)
    ok("webhooks", "add", "x", "http://h/", folder=tmp_path)
    twice = chargedeck("webhooks", "add", "x", "http://h/", folder=tmp_path)
    results = (bad_url, bad_type, unknown, bad_limit, twice)
    assert [r.exit_code for r in results] == [2] * len(results)
    assert "must be an absolute http:// or https:// URL" in sentence(bad_url.stderr)
    assert "'charger.exploded' is not an event type" in sentence(bad_type.stderr)
    assert "there is no webhook named 'nothing'" in sentence(unknown.stderr)
    assert "--limit 0: expected a number from 1 to 500" in sentence(bad_limit.stderr)
    assert "a webhook named 'x' exists already" in sentence(twice.stderr)
