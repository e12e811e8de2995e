"""What chargers report through the Security extension: security events, log upload and
signed firmware statuses."""

from __future__ import annotations

from chargedeck.store.engine import Database


class SecurityRecords:
    """Reads and writes of this module's tables."""

    def __init__(self, database: Database) -> None:
        self._db = database
