"""Operator accounts and API tokens (tables operator_users, api_tokens)."""

from __future__ import annotations

from chargedeck.store.engine import Database


class Operators:
    """Reads and writes of this module's tables."""

    def __init__(self, database: Database) -> None:
        self._db = database
