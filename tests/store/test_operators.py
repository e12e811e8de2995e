"""Operator accounts and API tokens in the store: hashes only, one lookup per request, a
last-used time written at most once a minute."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from chargedeck.domain.operators import Scope, new_token, token_hash, token_prefix
from chargedeck.store import Store
from chargedeck.store.errors import AlreadyExists, NotFound
from chargedeck.store.operators import ApiTokenRecord
from tests.store.conftest import CountRows

HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


async def add_token(
    store: Store,
    now: datetime,
    scope: Scope = Scope.READ,
    *,
    user_id: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiTokenRecord]:
    token = new_token()
    record = await store.operators.create_token(
        name="ci",
        scope=scope,
        token_hash=token_hash(token),
        token_prefix=token_prefix(token),
        now=now,
        user_id=user_id,
        expires_at=expires_at,
    )
    return token, record


# ---- users ------------------------------------------------------------------------------------


async def test_an_empty_store_has_no_users(store: Store) -> None:
    assert await store.operators.count_users() == 0


async def test_a_created_user_is_counted_listed_and_found_with_its_hash(
    store: Store, now: datetime
) -> None:
    created = await store.operators.create_user("ana", HASH, Scope.OPERATE, now)
    credentials = await store.operators.find_credentials("ana")
    assert await store.operators.count_users() == 1
    assert await store.operators.list_users() == [created]
    assert (created.username, created.scope, created.created_at) == ("ana", Scope.OPERATE, now)
    assert created.disabled_at is None
    assert credentials is not None
    assert credentials.password_hash == HASH


async def test_a_listed_user_carries_no_password_hash(store: Store, now: datetime) -> None:
    await store.operators.create_user("ana", HASH, Scope.READ, now)
    listed = msgspec.json.encode(await store.operators.list_users()).decode()
    assert HASH not in listed
    assert "password" not in listed


async def test_a_username_taken_raises_already_exists(store: Store, now: datetime) -> None:
    await store.operators.create_user("ana", HASH, Scope.READ, now)
    with pytest.raises(AlreadyExists, match="user 'ana' exists already"):
        await store.operators.create_user("ana", HASH, Scope.ADMIN, now)


async def test_an_unknown_user_is_none(store: Store) -> None:
    assert await store.operators.get_user("nobody") is None
    assert await store.operators.find_credentials("nobody") is None


async def test_a_new_password_hash_replaces_the_old_one(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    await store.operators.create_user("ana", HASH, Scope.READ, now)
    await store.operators.set_password("ana", HASH + "x")
    credentials = await store.operators.find_credentials("ana")
    assert credentials is not None
    assert credentials.password_hash == HASH + "x"
    assert await committed_rows("operator_users", f"password_hash = '{HASH}x'") == 1


async def test_setting_the_password_of_an_unknown_user_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="user 'nobody' does not exist"):
        await store.operators.set_password("nobody", HASH)


async def test_disabling_a_user_twice_keeps_the_first_time(store: Store, now: datetime) -> None:
    await store.operators.create_user("ana", HASH, Scope.READ, now)
    first = await store.operators.disable_user("ana", now + timedelta(hours=1))
    second = await store.operators.disable_user("ana", now + timedelta(hours=2))
    assert first.disabled_at == now + timedelta(hours=1)
    assert second.disabled_at == now + timedelta(hours=1)


async def test_enabled_admins_are_the_admin_accounts_not_disabled(
    store: Store, now: datetime
) -> None:
    await store.operators.create_user("boss", HASH, Scope.ADMIN, now)
    await store.operators.create_user("old-boss", HASH, Scope.ADMIN, now)
    await store.operators.create_user("ana", HASH, Scope.OPERATE, now)
    await store.operators.disable_user("old-boss", now)
    assert await store.operators.enabled_admins() == frozenset({"boss"})


async def test_disabling_an_unknown_user_raises_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound):
        await store.operators.disable_user("nobody", now)


# ---- tokens -----------------------------------------------------------------------------------


async def test_a_token_is_found_by_its_hash_only(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    token, created = await add_token(store, now, Scope.OPERATE)
    found = await store.operators.find_token(token_hash(token))
    assert found is not None
    assert (found.id, found.name, found.scope, found.token_prefix) == (
        created.id,
        "ci",
        Scope.OPERATE,
        token[:8],
    )
    assert (found.user_id, found.username, found.user_scope) == (None, None, None)
    assert await store.operators.find_token(token_hash(new_token())) is None
    assert await committed_rows("api_tokens", f"token_hash = '{token_hash(token)}'") == 1
    assert await committed_rows("api_tokens", f"token_hash = '{token}'") == 0


async def test_a_token_of_a_user_carries_the_users_scope_and_state(
    store: Store, now: datetime
) -> None:
    user = await store.operators.create_user("ana", HASH, Scope.READ, now)
    token, _ = await add_token(store, now, Scope.READ, user_id=user.id)
    await store.operators.disable_user("ana", now)
    found = await store.operators.find_token(token_hash(token))
    assert found is not None
    assert (found.username, found.user_scope, found.user_disabled_at) == ("ana", Scope.READ, now)


async def test_listed_tokens_carry_neither_text_nor_hash(store: Store, now: datetime) -> None:
    token, _ = await add_token(store, now, expires_at=now + timedelta(days=1))
    [listed] = await store.operators.list_tokens()
    text = msgspec.json.encode(listed).decode()
    assert token not in text
    assert token_hash(token) not in text
    assert listed.expires_at == now + timedelta(days=1)


async def test_revoking_a_token_twice_keeps_the_first_time(store: Store, now: datetime) -> None:
    token, created = await add_token(store, now)
    first = await store.operators.revoke_token(created.id, now + timedelta(minutes=1))
    second = await store.operators.revoke_token(created.id, now + timedelta(minutes=2))
    found = await store.operators.find_token(token_hash(token))
    assert first.revoked_at == second.revoked_at == now + timedelta(minutes=1)
    assert found is not None
    assert found.revoked_at == now + timedelta(minutes=1)


async def test_revoking_an_unknown_token_raises_not_found(store: Store, now: datetime) -> None:
    with pytest.raises(NotFound, match="there is no token with id 42"):
        await store.operators.revoke_token(42, now)


async def test_last_used_is_written_at_most_once_a_minute(store: Store, now: datetime) -> None:
    token, created = await add_token(store, now)
    writes = [
        await store.operators.touch_token(created.id, now + timedelta(seconds=seconds))
        for seconds in (0, 30, 59, 60, 61, 119, 120)
    ]
    found = await store.operators.find_token(token_hash(token))
    assert writes == [True, False, False, True, False, False, True]
    assert found is not None
    assert found.last_used_at == now + timedelta(seconds=120)


async def test_disabling_a_user_keeps_the_user_and_its_tokens(
    store: Store, now: datetime, committed_rows: CountRows
) -> None:
    user = await store.operators.create_user("ana", HASH, Scope.READ, now)
    await add_token(store, now, user_id=user.id)
    await store.operators.disable_user("ana", now)
    assert await committed_rows("operator_users") == 1
    assert await committed_rows("api_tokens") == 1
