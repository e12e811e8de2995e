"""Who may connect: the security side of a charger's handshake (Security Whitepaper ed.3,
DESIGN §5), around the pure rules of ``domain/security.py``.

What it adds to the rules: password checks off the event loop and at most two at a time (argon2
is slow on purpose), a cache of credentials already verified (a reconnect storm costs one hash
per charger, not one per attempt), growing back-off per remote host and per charger id (the
charger's last good address is exempt from its id's back-off, so a flood of wrong passwords for
an id cannot lock the real charger out), and the record of every refusal: logged, counted per
(charger, host, reason) and written to the store once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Final

from chargedeck.clock import Clock
from chargedeck.config import Settings
from chargedeck.domain.certificates import ClientCertificateProblemKind, check_client_certificate
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.passwords import MalformedHash, verify_secret
from chargedeck.domain.security import (
    Admission,
    FailureBackoff,
    PresentedIdentity,
    Rejection,
    RejectionReason,
    SecurityProfile,
    admit,
    password_candidates,
)
from chargedeck.store import Store
from chargedeck.store.errors import StoreError
from chargedeck.store.registrations import ChargePointAccess
from chargedeck.store.rejections import RejectionRecord

log = logging.getLogger(__name__)

_CERTIFICATE_REASONS: Final = {
    ClientCertificateProblemKind.UNREADABLE: RejectionReason.CLIENT_CERTIFICATE_UNREADABLE,
    ClientCertificateProblemKind.EXPIRED: RejectionReason.CLIENT_CERTIFICATE_EXPIRED,
    ClientCertificateProblemKind.NOT_YET_VALID: RejectionReason.CLIENT_CERTIFICATE_NOT_YET_VALID,
    ClientCertificateProblemKind.REVOKED: RejectionReason.CLIENT_CERTIFICATE_REVOKED,
    ClientCertificateProblemKind.CN_MISMATCH: RejectionReason.CLIENT_CERTIFICATE_CN_MISMATCH,
}
# Leave the event loop a core: with every core hashing, a flood of wrong passwords slowed the
# connected chargers' answers 5x (bench/security.py); argon2 releases the GIL.
_PASSWORD_CHECKS_AT_ONCE: Final = max(1, (os.cpu_count() or 2) - 1)
_VERIFIED_CACHE_SIZE: Final = 50_000
_REVOKED_LIST_TTL: Final = timedelta(seconds=5)
_FLUSH_INTERVAL_S: Final = 1.0
_QUIET_LOG_INTERVAL: Final = timedelta(seconds=60)


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


class ConnectionGuard:
    """The edge asks it about every upgrade request; ``start``/``close`` run its flush task."""

    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._min_profile = SecurityProfile(settings.min_security_profile)
        backoff_max = timedelta(seconds=settings.auth_backoff_max_s)
        threshold = settings.auth_failures_before_backoff
        self._host_backoff = FailureBackoff(threshold, backoff_max)
        self._id_backoff = FailureBackoff(threshold, backoff_max)
        self._good_hosts: OrderedDict[str, str] = OrderedDict()
        self._verified: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._password_slots = asyncio.Semaphore(_PASSWORD_CHECKS_AT_ONCE)
        # Its own threads, as many as checks run at once: each thread that ran argon2 keeps its
        # 19 MiB arena, so the default pool's extra threads would only cost memory.
        self._password_pool = ThreadPoolExecutor(
            _PASSWORD_CHECKS_AT_ONCE, thread_name_prefix="password-check"
        )
        self._revoked: frozenset[str] = frozenset()
        self._revoked_read_at: datetime | None = None
        self._counts: dict[tuple[str, str, RejectionReason], RejectionRecord] = {}
        self._quiet_until: dict[tuple[str, str, RejectionReason], datetime] = {}
        self._flush_task: asyncio.Task[None] | None = None

    @property
    def min_profile(self) -> SecurityProfile:
        return self._min_profile

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._flush_task = asyncio.get_running_loop().create_task(self._flush_periodically())

    async def close(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
            self._flush_task = None
        await self.flush()
        self._password_pool.shutdown(wait=False, cancel_futures=True)

    # ---- the checks -------------------------------------------------------------------------

    def throttled(self, charge_point_id: str, host: str) -> Rejection | None:
        """A refusal if this host, or this id from a host that is not its last good one, is in
        its back-off; checked before anything costly, and again before a password check."""
        now = self._clock.now()
        until = self._host_backoff.blocked_until(host, now)
        if until is None and self._good_hosts.get(charge_point_id) != host:
            until = self._id_backoff.blocked_until(charge_point_id, now)
        if until is None:
            return None
        wait = max(1, int((until - now).total_seconds() + 0.999))
        return Rejection(
            RejectionReason.RATE_LIMITED,
            f"too many failed attempts from {host} or for charge point {charge_point_id!r}: "
            f"try again in {wait} s",
            retry_after_s=wait,
        )

    def refuses_host(self, host: str) -> bool:
        """True (and the refusal counted) if ``host`` is in its back-off: the TLS port then
        closes the connection before the handshake, which would cost ~2 ms of the event loop
        per attempt (bench/security.py: a 429 flood over wss spent a third of the loop in TLS)."""
        now = self._clock.now()
        until = self._host_backoff.blocked_until(host, now)
        if until is None:
            return False
        wait = max(1, int((until - now).total_seconds() + 0.999))
        self.refused(
            "",
            host,
            Rejection(
                RejectionReason.RATE_LIMITED,
                f"too many failed attempts from {host}: connection closed before TLS; try "
                f"again in {wait} s",
                retry_after_s=wait,
            ),
        )
        return True

    async def admit(
        self,
        charge_point_id: ChargePointId,
        host: str,
        access: ChargePointAccess,
        presented: PresentedIdentity,
    ) -> SecurityProfile | Rejection:
        """The profile a known charger's connection is admitted with, or why it is refused."""
        decision = admit(charge_point_id, access.security, presented, self._min_profile)
        if isinstance(decision, Rejection):
            return decision
        if decision.verify_password_against is not None:
            assert presented.credentials is not None  # admit() asked for them
            matched = await self._password_matches(
                charge_point_id,
                host,
                decision.verify_password_against,
                presented.credentials.password,
            )
            if isinstance(matched, Rejection):
                return matched
            if not matched:
                return Rejection(
                    RejectionReason.WRONG_PASSWORD,
                    f"wrong password for charge point {charge_point_id!r} (checked as sent and "
                    "hex-decoded)",
                )
        if decision.check_client_certificate:
            refusal = await self._check_certificate(charge_point_id, presented)
            if refusal is not None:
                return refusal
        await self._promote(charge_point_id, decision)
        return decision.profile

    async def _password_matches(
        self, charge_point_id: ChargePointId, host: str, stored_hash: str, password: bytes
    ) -> bool | Rejection:
        digest = _digest(password)
        if self._verified.get(charge_point_id) == (stored_hash, digest):
            return True
        async with self._password_slots:
            # Attempts that queued for a slot while earlier ones failed meet the back-off here,
            # not after an argon2 check each (bench/security.py: a burst got through otherwise).
            throttled = self.throttled(charge_point_id, host)
            if throttled is not None:
                return throttled
            try:
                matched = await asyncio.get_running_loop().run_in_executor(
                    self._password_pool, _any_matches, stored_hash, password
                )
            except MalformedHash as exc:
                log.error("charge point %s: %s", charge_point_id, exc)
                return False
        if matched:
            self._verified[charge_point_id] = (stored_hash, digest)
            self._verified.move_to_end(charge_point_id)
            while len(self._verified) > _VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return matched

    async def _check_certificate(
        self, charge_point_id: ChargePointId, presented: PresentedIdentity
    ) -> Rejection | None:
        assert presented.client_certificate_der is not None
        now = self._clock.now()
        problem = check_client_certificate(
            presented.client_certificate_der, charge_point_id, now, await self._revoked_serials()
        )
        if problem is None:
            return None
        return Rejection(_CERTIFICATE_REASONS[problem.kind], problem.detail)

    async def _revoked_serials(self) -> frozenset[str]:
        """The operator-revoked list, read at most every few seconds (a reconnect storm of
        profile 3 chargers must not read it once per charger)."""
        now = self._clock.now()
        if self._revoked_read_at is None or now - self._revoked_read_at > _REVOKED_LIST_TTL:
            self._revoked = await self._store.certificates.revoked_serials()
            self._revoked_read_at = now
        return self._revoked

    def forget_revoked_list(self) -> None:
        """Read the revoked list again at the next profile 3 handshake (after a revocation)."""
        self._revoked_read_at = None

    async def _promote(self, charge_point_id: ChargePointId, decision: Admission) -> None:
        if not decision.promotes_pending_profile:
            return
        try:
            promoted = await self._store.charge_points.promote_pending_profile(
                charge_point_id, decision.profile
            )
        except StoreError as exc:
            # Still admitted: the pending profile stays allowed and is promoted next time.
            log.warning("charge point %s: profile not promoted: %s", charge_point_id, exc)
            return
        if promoted:
            log.info(
                "charge point %s connected with its new security profile %d: the lower "
                "profile is no longer accepted",
                charge_point_id,
                decision.profile,
            )

    # ---- outcomes ---------------------------------------------------------------------------

    def succeeded(self, charge_point_id: str, host: str) -> None:
        """A charger connected: clear its back-off and remember its address as good."""
        self._host_backoff.record_success(host)
        self._id_backoff.record_success(charge_point_id)
        self._good_hosts[charge_point_id] = host
        self._good_hosts.move_to_end(charge_point_id)
        while len(self._good_hosts) > _VERIFIED_CACHE_SIZE:
            self._good_hosts.popitem(last=False)

    def refused(self, charge_point_id: str, host: str, rejection: Rejection) -> None:
        """Log, count and (within a second) store a refusal; failures feed the back-off.

        ``charge_point_id`` is '' when the refusal came before any id was known (TLS).
        """
        now = self._clock.now()
        if rejection.reason is not RejectionReason.RATE_LIMITED:
            self._host_backoff.record_failure(host, now)
            if charge_point_id:
                self._id_backoff.record_failure(charge_point_id, now)
        key = (charge_point_id, host, rejection.reason)
        previous = self._counts.get(key)
        self._counts[key] = RejectionRecord(
            charge_point_id=charge_point_id,
            remote_host=host,
            reason=rejection.reason,
            detail=rejection.detail,
            first_at=now if previous is None else previous.first_at,
            last_at=now,
            count=1 if previous is None else previous.count + 1,
        )
        # A flood logs one line per (id, host, reason) a minute; every refusal is counted.
        quiet_until = self._quiet_until.get(key)
        if quiet_until is not None and now < quiet_until:
            return
        if len(self._quiet_until) > _VERIFIED_CACHE_SIZE:
            self._quiet_until.clear()
        self._quiet_until[key] = now + _QUIET_LOG_INTERVAL
        log.warning(
            "connection refused: charge point %s from %s: %s (%s)",
            repr(charge_point_id) if charge_point_id else "(unknown)",
            host,
            rejection,
            "further refusals of this kind are counted, not logged, for a minute"
            if rejection.reason is RejectionReason.RATE_LIMITED
            else f"HTTP {rejection.status.value}",
        )

    async def flush(self) -> None:
        """Write the refusals counted since the last flush."""
        if not self._counts:
            return
        counts, self._counts = self._counts, {}
        try:
            await self._store.rejections.add_rejections(list(counts.values()))
        except StoreError as exc:
            log.warning("refused connections not recorded (%d kinds): %s", len(counts), exc)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_INTERVAL_S)
            await self.flush()


def _any_matches(stored_hash: str, password: bytes) -> bool:
    """Runs in a worker thread: argon2 releases the GIL."""
    return any(verify_secret(stored_hash, key) for key in password_candidates(password))
