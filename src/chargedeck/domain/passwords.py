"""Salted, memory-hard hashes for secrets people type: charger AuthorizationKeys and operator
passwords (Security Whitepaper ed.3 A01.FR.08: store only salted hashes; DESIGN §5).

argon2id with the OWASP minimum for interactive logins (19 MiB, 2 passes, 1 lane): about 15 ms
per check on this machine kind. Callers keep it off the event loop (a worker thread: argon2-cffi
releases the GIL) and in front of it a cache of recently verified credentials and a failure
back-off, so a reconnect storm or a flood of wrong passwords does not turn into CPU.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class MalformedHash(ValueError):
    """A stored hash that is not an argon2 hash: the store was edited by hand or is corrupt."""


def hash_secret(secret: bytes) -> str:
    """The argon2id hash (PHC string, salt included) of ``secret``."""
    return _HASHER.hash(secret)


def verify_secret(stored_hash: str, secret: bytes) -> bool:
    """True if ``secret`` matches ``stored_hash``; raises ``MalformedHash`` for a broken hash."""
    try:
        return _HASHER.verify(stored_hash, secret)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError) as exc:
        raise MalformedHash(f"stored password hash is not a valid argon2 hash: {exc}") from exc
