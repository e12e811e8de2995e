"""Certificates ChargeDeck's CA issued, and the operator-revoked list checked on profile 3
handshakes (tables issued_certificates, revoked_certificates)."""

from __future__ import annotations

from chargedeck.store.engine import Database


class Certificates:
    """Reads and writes of this module's tables."""

    def __init__(self, database: Database) -> None:
        self._db = database
