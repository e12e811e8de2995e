"""The first operator account (DESIGN §8): on the first start with no account at all, ``serve``
creates ``admin`` with a random password and shows it once on the console, never in the log.
"""

from __future__ import annotations

import asyncio

from chargedeck.clock import Clock
from chargedeck.domain.operators import FIRST_ADMIN_USERNAME, Scope, new_password
from chargedeck.domain.passwords import hash_secret
from chargedeck.store import Store
from chargedeck.store.errors import AlreadyExists


async def ensure_first_admin(store: Store, clock: Clock) -> str | None:
    """Create ``admin`` (scope admin) with a random password if the store has no account, and
    return the password; None if an account exists (or another process just made the first).

    Raises ``StoreUnavailable`` if the store cannot be read or written.
    """
    if await store.operators.count_users() > 0:
        return None
    password = new_password()
    password_hash = await asyncio.to_thread(hash_secret, password.encode())
    try:
        await store.operators.create_user(
            FIRST_ADMIN_USERNAME, password_hash, Scope.ADMIN, clock.now()
        )
    except AlreadyExists:  # a second `serve` on the same PostgreSQL won the race
        return None
    return password


def first_admin_notice(password: str) -> str:
    """The console block that shows the first admin password, with how to change it."""
    rule = "=" * 72
    return (
        f"\n{rule}\n"
        f"  ChargeDeck created the operator account {FIRST_ADMIN_USERNAME!r} (scope admin).\n"
        f"  Its password, shown this once and never again:\n\n"
        f"      {password}\n\n"
        f"  Change it:  chargedeck users set-password {FIRST_ADMIN_USERNAME}\n"
        f"  A token for scripts:  chargedeck tokens create NAME --scope admin\n"
        f"{rule}\n\n"
    )
