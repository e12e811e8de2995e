"""Operator accounts and API tokens (tables operator_users, api_tokens).

The store keeps only hashes: an argon2id PHC string per password, a SHA-256 per token (see
``domain/operators.py``). Records handed out for listing never carry a hash, so a listing
printed as JSON cannot leak one; :class:`OperatorCredentials` (with the hash) is only for the
code that checks a password.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from chargedeck.domain.operators import TOKEN_TOUCH_INTERVAL, Scope
from chargedeck.store._convert import to_record, to_records
from chargedeck.store.engine import Database, dialect_insert
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.schema import api_tokens, operator_users
from chargedeck.store.types import UtcDateTime

_U = operator_users.c
_K = api_tokens.c
_USER_COLUMNS = (_U.id, _U.username, _U.scope, _U.created_at, _U.disabled_at)
_TOKEN_COLUMNS = (
    _K.id,
    _K.name,
    _K.user_id,
    _U.username,
    _K.scope,
    _K.token_prefix,
    _K.created_at,
    _K.last_used_at,
    _K.expires_at,
    _K.revoked_at,
)
_TOKENS_WITH_USER = api_tokens.outerjoin(operator_users, _K.user_id == _U.id)
# One indexed lookup per API request: token_hash is unique (its index), the user by primary key.
_FIND_TOKEN = (
    sa.select(
        *_TOKEN_COLUMNS,
        _U.scope.label("user_scope"),
        _U.disabled_at.label("user_disabled_at"),
    )
    .select_from(_TOKENS_WITH_USER)
    .where(_K.token_hash == sa.bindparam("token_hash"))
)
_FIND_CREDENTIALS = sa.select(*_USER_COLUMNS, _U.password_hash).where(
    _U.username == sa.bindparam("username")
)


class OperatorUserRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An operator account as listed: no password hash."""

    id: int
    username: str
    scope: Scope
    created_at: datetime
    disabled_at: datetime | None


class OperatorCredentials(OperatorUserRecord, frozen=True, kw_only=True):
    """An account with its argon2id password hash, for checking a password only."""

    password_hash: str


class ApiTokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An API token as listed: its first characters, never its text or hash."""

    id: int
    name: str
    user_id: int | None
    username: str | None
    """The user the token belongs to (None: a service token of its own)."""
    scope: Scope
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class FoundToken(ApiTokenRecord, frozen=True, kw_only=True):
    """A token found by its hash, with the state of its user for the request being checked."""

    user_scope: Scope | None
    user_disabled_at: datetime | None


class Operators:
    """Reads and writes of ``operator_users`` and ``api_tokens``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- users --------------------------------------------------------------------------------

    async def count_users(self) -> int:
        """How many accounts exist, disabled ones included."""
        async with self._db.read() as connection:
            result = await connection.execute(
                sa.select(sa.func.count()).select_from(operator_users)
            )
            return int(result.scalar_one())

    async def create_user(
        self, username: str, password_hash: str, scope: Scope, now: datetime
    ) -> OperatorUserRecord:
        """Add an account; raises ``AlreadyExists`` if the username is taken (even disabled)."""
        statement = (
            dialect_insert(self._db.dialect_name, operator_users)
            .values(
                username=username, password_hash=password_hash, scope=scope.value, created_at=now
            )
            .on_conflict_do_nothing(index_elements=[_U.username])
            .returning(*_USER_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise AlreadyExists(f"user {username!r} exists already")
        return to_record(OperatorUserRecord, row)

    async def list_users(self) -> list[OperatorUserRecord]:
        """Every account, disabled ones included, by username."""
        statement = sa.select(*_USER_COLUMNS).order_by(_U.username)
        async with self._db.read() as connection:
            return to_records(OperatorUserRecord, await connection.execute(statement))

    async def enabled_admins(self) -> frozenset[str]:
        """The usernames of the accounts with scope admin that are not disabled."""
        statement = sa.select(_U.username).where(
            _U.scope == Scope.ADMIN.value, _U.disabled_at.is_(None)
        )
        async with self._db.read() as connection:
            return frozenset((await connection.execute(statement)).scalars())

    async def get_user(self, username: str) -> OperatorUserRecord | None:
        """The account, or None if there is none of that name."""
        credentials = await self.find_credentials(username)
        if credentials is None:
            return None
        return OperatorUserRecord(
            id=credentials.id,
            username=credentials.username,
            scope=credentials.scope,
            created_at=credentials.created_at,
            disabled_at=credentials.disabled_at,
        )

    async def find_credentials(self, username: str) -> OperatorCredentials | None:
        """The account with its password hash (one indexed query), or None."""
        async with self._db.read() as connection:
            row = (await connection.execute(_FIND_CREDENTIALS, {"username": username})).first()
        return None if row is None else to_record(OperatorCredentials, row)

    async def set_password(self, username: str, password_hash: str) -> OperatorUserRecord:
        """Replace the account's password hash; raises ``NotFound`` for an unknown username."""
        return await self._update_user(username, password_hash=password_hash)

    async def disable_user(self, username: str, now: datetime) -> OperatorUserRecord:
        """Disable the account and, with it, every token it owns; disabling twice keeps the
        first time. Raises ``NotFound`` for an unknown username."""
        first_time = sa.func.coalesce(_U.disabled_at, sa.bindparam("now", now, type_=UtcDateTime()))
        return await self._update_user(username, disabled_at=first_time)

    async def _update_user(self, username: str, **values: Any) -> OperatorUserRecord:
        statement = (
            sa.update(operator_users)
            .where(_U.username == username)
            .values(**values)
            .returning(*_USER_COLUMNS)
        )
        async with self._db.write() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise NotFound(f"user {username!r} does not exist")
        return to_record(OperatorUserRecord, row)

    # ---- tokens -------------------------------------------------------------------------------

    async def create_token(
        self,
        *,
        name: str,
        scope: Scope,
        token_hash: str,
        token_prefix: str,
        now: datetime,
        user_id: int | None = None,
        expires_at: datetime | None = None,
    ) -> ApiTokenRecord:
        """Store a new token's hash; the text itself is never stored."""
        insert = (
            sa.insert(api_tokens)
            .values(
                name=name,
                user_id=user_id,
                scope=scope.value,
                token_hash=token_hash,
                token_prefix=token_prefix,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(_K.id)
        )
        async with self._db.write() as connection:
            token_id = (await connection.execute(insert)).scalar_one()
            row = (await connection.execute(self._select_token(token_id))).one()
        return to_record(ApiTokenRecord, row)

    async def list_tokens(self) -> list[ApiTokenRecord]:
        """Every token, revoked and expired ones included, oldest first."""
        statement = sa.select(*_TOKEN_COLUMNS).select_from(_TOKENS_WITH_USER).order_by(_K.id)
        async with self._db.read() as connection:
            return to_records(ApiTokenRecord, await connection.execute(statement))

    async def revoke_token(self, token_id: int, now: datetime) -> ApiTokenRecord:
        """Revoke a token from now on; revoking twice keeps the first time. Raises ``NotFound``."""
        statement = (
            sa.update(api_tokens)
            .where(_K.id == token_id)
            .values(
                revoked_at=sa.func.coalesce(
                    _K.revoked_at, sa.bindparam("now", now, type_=UtcDateTime())
                )
            )
        )
        async with self._db.write() as connection:
            await connection.execute(statement)
            row = (await connection.execute(self._select_token(token_id))).first()
        if row is None:
            raise NotFound(f"there is no token with id {token_id}")
        return to_record(ApiTokenRecord, row)

    async def find_token(self, token_hash: str) -> FoundToken | None:
        """The token with this hash and its user's state (one indexed query), or None."""
        async with self._db.read() as connection:
            row = (await connection.execute(_FIND_TOKEN, {"token_hash": token_hash})).first()
        return None if row is None else to_record(FoundToken, row)

    async def touch_token(self, token_id: int, now: datetime) -> bool:
        """Record that the token was used ``now``, unless it was within TOKEN_TOUCH_INTERVAL
        (then nothing is written). True if the row was updated."""
        statement = (
            sa.update(api_tokens)
            .where(
                _K.id == token_id,
                sa.or_(
                    _K.last_used_at.is_(None),
                    _K.last_used_at
                    <= sa.bindparam("cutoff", now - TOKEN_TOUCH_INTERVAL, type_=UtcDateTime()),
                ),
            )
            .values(last_used_at=sa.bindparam("now", now, type_=UtcDateTime()))
        )
        async with self._db.write() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    @staticmethod
    def _select_token(token_id: int) -> sa.Select[tuple[object, ...]]:
        return sa.select(*_TOKEN_COLUMNS).select_from(_TOKENS_WITH_USER).where(_K.id == token_id)
