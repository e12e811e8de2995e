"""docs/security.md maps every refusal reason the code has to what the charger's app shows."""

from __future__ import annotations

import re
from pathlib import Path

from chargedeck.domain.security import REASONS

DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def test_the_refusal_table_lists_every_reason_with_its_status_and_app_state() -> None:
    rows = {
        match.group(1): (match.group(2), match.group(3))
        for match in re.finditer(
            r"^\| `([a-z_]+)` \| (\d{3}|—) \| ([^|]+?) \|", DOC.read_text(), re.M
        )
    }
    assert set(rows) == {reason.value for reason in REASONS}
    for reason, info in REASONS.items():
        status, shows = rows[reason.value]
        assert shows == info.charger_shows, reason
        if status != "—":
            assert int(status) == info.status.value, reason
