"""Refused charger connections, counted per (charger, remote host, reason)."""

from __future__ import annotations

from chargedeck.store.engine import Database


class ConnectionRejections:
    """Reads and writes of this module's tables."""

    def __init__(self, database: Database) -> None:
        self._db = database
