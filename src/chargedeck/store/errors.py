"""Errors the store raises: database failures are translated here, where they enter (STYLE rule 3).

Callers never see SQLAlchemy, aiosqlite or asyncpg exceptions: a business outcome (an unknown or
already stopped transaction) is a return value, a broken database is ``StoreUnavailable``.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises."""


class NotFound(StoreError):
    """The row the operation works on does not exist (for example adopting an unknown charger)."""


class AlreadyExists(StoreError):
    """A row with this key exists already (for example adding a charge point twice)."""


class Conflict(StoreError):
    """The change would break a rule between rows that the caller can fix: a site name taken, a
    second grid connection, a circuit that would become its own ancestor, a circuit that still
    has chargers on it. The message says what to change."""


class ConstraintViolation(StoreError):
    """The database refused a row: a constraint of ``schema.py`` forbids it.

    Examples: a transaction for a charge point that is not in the store (foreign key), or a
    transaction id that would leave the 32-bit range OCPP 1.6 allows (check constraint).
    """


class StoreUnavailable(StoreError):
    """The database could not complete the operation: connection lost, disk full, locked.

    Nothing the caller asked for is committed; the original exception is ``__cause__``. An OCPP
    handler answers with a CallError InternalError so the charger retries later.
    """


class UnsupportedDatabaseUrl(StoreError, ValueError):
    """The ``database_url`` setting names a database ChargeDeck cannot use."""
