"""Keeping chargers' Local Authorization Lists in step with the id tags (OCPP 1.6 §3.5.2, §5.15).

:func:`sync_local_list` is the operator's "bring this charger's list up to date": it reads the
charger's limits and offline keys (GetConfiguration, stored), asks for its listVersion
(GetLocalListVersion), plans the SendLocalList requests with ``domain/local_list.py`` (a Full
list, or the difference from what the charger is known to hold, in parts of at most
SendLocalListMaxLength entries), sends them in order and records each one with the charger's
answer. After Failed or VersionMismatch it sends the whole list once more as a Full update, as
§5.15 advises; if that is not accepted either, it raises :class:`LocalListNotAccepted`.

What the list holds: every id tag in the store, each with the IdTagInfo an Authorize would get
now (Accepted with its expiry date, Blocked, Expired; a registered parentIdTag is the tag's
group), a card registered by its UID also as the idTag this charger model sends for it. Blocked
and expired cards are listed on purpose: a charger that may start unknown ids while offline
(AllowOfflineTxForUnknownId) must still refuse a card its list names Blocked or Expired (OCPP
1.6 §3.5 "Unknown Offline Authorization", ocpp16-facts-and-peers §1.6), while a card it does not
hold is merely unknown to it.

``resync_after_id_tag_change`` is called by every path that changes an id tag: each connected,
registered charger that ChargeDeck has sent a list before (the operator opted in by syncing it
once) and that does not report LocalAuthListEnabled=false gets the difference, in the background,
one sync at a time per charger, a burst of changes coalesced into one sync. In a cluster every
node does this for the chargers it holds (server/cluster.py relays the change).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from chargedeck.csms.commands import CommandError, send_command
from chargedeck.csms.configuration import (
    charger_model,
    parse_boolean,
    parse_count,
    read_configuration,
)
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.id_tag_info import decision_for
from chargedeck.csms.id_tag_registry import id_tag_sent_by
from chargedeck.csms.stations import ChargePointDisconnected, Stations
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.charger_models import ChargerModel
from chargedeck.domain.id_tags import AuthorizationDecision
from chargedeck.domain.ids import ChargePointId
from chargedeck.domain.local_list import (
    LIST_NOT_SUPPORTED_VERSION,
    ChargerLocalList,
    LocalListEntry,
    LocalListTooLong,
    SendLocalListToSend,
    plan_send_local_list,
)
from chargedeck.ocpp.errors import OcppError
from chargedeck.ocpp.v16 import enums
from chargedeck.ocpp.v16.core import GetConfigurationResponse
from chargedeck.ocpp.v16.local_auth import (
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
)
from chargedeck.ocpp.v16.types import AuthorizationData, IdTagInfo
from chargedeck.store.errors import StoreError
from chargedeck.store.local_lists import LocalListSendRecord

log = logging.getLogger(__name__)

# OCPP 1.6 §9.4 (Local Auth List Management keys, required with that profile).
LOCAL_AUTH_LIST_ENABLED: Final = "LocalAuthListEnabled"
LOCAL_AUTH_LIST_MAX_LENGTH: Final = "LocalAuthListMaxLength"
SEND_LOCAL_LIST_MAX_LENGTH: Final = "SendLocalListMaxLength"
# OCPP 1.6 §9.1 (Core keys): how the charger authorizes while offline, shown beside its list.
OFFLINE_AUTHORIZATION_KEYS: Final = (
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "AllowOfflineTxForUnknownId",
)
# Read in one GetConfiguration before every sync: well under GetConfigurationMaxKeys (Wallbox: 50).
LOCAL_LIST_KEYS: Final = (
    LOCAL_AUTH_LIST_ENABLED,
    LOCAL_AUTH_LIST_MAX_LENGTH,
    SEND_LOCAL_LIST_MAX_LENGTH,
    *OFFLINE_AUTHORIZATION_KEYS,
)

# How long a resync waits after an id tag change before it reads the id tags: a script that adds
# or blocks cards one request after another (milliseconds apart) then costs the charger one
# SendLocalList, not one per card. Short against a person waiting for a card to work.
RESYNC_DEBOUNCE_S: Final = 1.0


class LocalListError(Exception):
    """A local list sync that cannot be made or did not succeed; the message says why."""


class LocalListRefused(LocalListError):
    """Nothing was sent: the charger has no list, has it disabled, does not report its limits,
    or the list is longer than it can hold."""


class LocalListNotAccepted(LocalListError):
    """The charger did not accept the list, even sent again in full; ``status`` is its answer
    (OCPP 1.6 §7.47 UpdateStatus)."""

    def __init__(self, message: str, status: enums.UpdateStatus) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LocalListLimits:
    """What a charger reported about its list (§9.4)."""

    local_auth_list_max_length: int
    send_local_list_max_length: int


@dataclass(frozen=True)
class LocalListSync:
    """The outcome of a sync: the listVersion the charger now holds, how many id tags, the
    SendLocalList requests sent (oldest first; none when it was up to date) and whether the
    whole list had to be sent again after a Failed or VersionMismatch answer."""

    charge_point_id: ChargePointId
    version: int
    entry_count: int
    sends: tuple[LocalListSendRecord, ...]
    full_resend: bool


@dataclass(frozen=True)
class _Attempt:
    status: enums.UpdateStatus
    version: int
    send_ids: tuple[int, ...]


async def wanted_local_list(
    services: CsmsServices, model: ChargerModel
) -> dict[str, AuthorizationDecision]:
    """Every id tag of the store with the IdTagInfo an Authorize would answer now, for a charger
    of ``model``.

    A tag whose parentIdTag is itself a registered tag belongs to that group, which may block or
    expire it (``domain/id_tags.authorize``). A tag registered with its card's UID is listed
    also as the idTag this charger model sends for the card (``domain/card_uids.py``: a Wallbox
    sends the UID byte-reversed), since the charger looks up what it reads, not what the
    operator typed; both forms are listed because the byte order of a model is a default, not
    yet confirmed for every model (charger_models.py).
    """
    now = services.clock.now()
    records = await services.store.id_tags.list_id_tags()
    by_key = {record.id_tag.upper(): record for record in records}
    wanted: dict[str, AuthorizationDecision] = {}
    for record in records:
        parent = None if record.parent_id_tag is None else by_key.get(record.parent_id_tag.upper())
        decision = decision_for(record, parent, now)
        wanted[record.id_tag] = decision
        sent = id_tag_sent_by(record, model)
        if sent.upper() not in by_key:
            wanted[sent] = decision
    return wanted


async def sync_local_list(services: CsmsServices, charge_point_id: ChargePointId) -> LocalListSync:
    """Bring the charger's Local Authorization List up to date with the id tags.

    One sync at a time per charger: a second call waits for the first. Raises
    :class:`LocalListRefused` (nothing sent), :class:`LocalListNotAccepted`, and what
    ``send_command`` raises (unknown, not connected, no answer); when the charger stops
    answering mid-way, ChargeDeck forgets what it holds and the next sync sends it in full.
    """
    async with _work_of(services).lock(charge_point_id):
        return await _sync(services, charge_point_id)


async def _sync(services: CsmsServices, charge_point_id: ChargePointId) -> LocalListSync:
    configuration = await read_configuration(services, charge_point_id, LOCAL_LIST_KEYS)
    version = await _charger_version(services, charge_point_id)
    limits = _limits(charge_point_id, configuration)
    charge_point = await services.store.charge_points.get_charge_point(charge_point_id)
    wanted = await wanted_local_list(services, charger_model(charge_point))
    held = await services.store.local_lists.get_held(charge_point_id)
    known = held.entries if held is not None and held.version == version else None
    attempt = await _send_plan(
        services, charge_point_id, limits, wanted, ChargerLocalList(version, known)
    )
    full_resend = False
    send_ids = attempt.send_ids
    if attempt.status in (enums.UpdateStatus.FAILED, enums.UpdateStatus.VERSION_MISMATCH):
        log.warning(
            "charge point %s answered %s to a SendLocalList: sending the whole list again as a "
            "Full update (OCPP 1.6 §5.15)",
            charge_point_id,
            attempt.status.value,
        )
        full_resend = True
        version = await _charger_version(services, charge_point_id)
        attempt = await _send_plan(
            services, charge_point_id, limits, wanted, ChargerLocalList(version, None)
        )
        send_ids += attempt.send_ids
    if attempt.status is not enums.UpdateStatus.ACCEPTED:
        message = (
            f"charge point {charge_point_id} answered {attempt.status.value} to the local list"
            + (" sent again in full" if full_resend else "")
            + (
                ": it does not support a Local Authorization List"
                if attempt.status is enums.UpdateStatus.NOT_SUPPORTED
                else "; ChargeDeck no longer knows what it holds and sends the full list next time"
            )
        )
        log.warning("%s", message)
        raise LocalListNotAccepted(message, attempt.status)
    sends = await services.store.local_lists.list_sends(charge_point_id, len(send_ids) or 1)
    entry_count = await services.store.local_lists.count_entries(charge_point_id)
    log.info(
        "charge point %s holds local list version %d (%d id tags) after %d SendLocalList",
        charge_point_id,
        attempt.version,
        entry_count,
        len(send_ids),
    )
    return LocalListSync(
        charge_point_id=charge_point_id,
        version=attempt.version,
        entry_count=entry_count,
        sends=tuple(reversed([send for send in sends if send.id in send_ids])),
        full_resend=full_resend,
    )


async def _charger_version(services: CsmsServices, charge_point_id: ChargePointId) -> int:
    answer = await send_command(services, charge_point_id, GetLocalListVersionRequest())
    assert isinstance(answer, GetLocalListVersionResponse)
    if answer.list_version == LIST_NOT_SUPPORTED_VERSION:
        raise LocalListRefused(
            f"charge point {charge_point_id} has no Local Authorization List "
            "(GetLocalListVersion answered -1)"
        )
    if answer.list_version < 0:
        raise LocalListRefused(
            f"charge point {charge_point_id} answered listVersion {answer.list_version} to "
            "GetLocalListVersion; a version is -1 (no list) or 0 and more"
        )
    return answer.list_version


def _limits(
    charge_point_id: ChargePointId, configuration: GetConfigurationResponse
) -> LocalListLimits:
    """The charger's limits from its answer; LocalListRefused when it has its list disabled or
    does not report a limit (ChargeDeck does not guess how many entries it takes)."""
    values = {entry.key.lower(): entry.value for entry in configuration.configuration_key or ()}

    def value_of(key: str) -> str:
        value = values.get(key.lower())
        if value is None:
            raise LocalListRefused(
                f"charge point {charge_point_id} does not report {key} (OCPP 1.6 §9.4, required "
                "with the LocalAuthListManagement profile); ChargeDeck does not guess it"
            )
        return value

    try:
        enabled = parse_boolean(LOCAL_AUTH_LIST_ENABLED, value_of(LOCAL_AUTH_LIST_ENABLED))
        limits = LocalListLimits(
            local_auth_list_max_length=parse_count(
                LOCAL_AUTH_LIST_MAX_LENGTH, value_of(LOCAL_AUTH_LIST_MAX_LENGTH)
            ),
            send_local_list_max_length=parse_count(
                SEND_LOCAL_LIST_MAX_LENGTH, value_of(SEND_LOCAL_LIST_MAX_LENGTH)
            ),
        )
    except ValueError as exc:
        raise LocalListRefused(f"charge point {charge_point_id}: {exc}") from None
    if not enabled:
        raise LocalListRefused(
            f"charge point {charge_point_id} reports {LOCAL_AUTH_LIST_ENABLED}=false: it does "
            "not use a local list; set it to true (ChangeConfiguration) and sync again"
        )
    return limits


async def _send_plan(
    services: CsmsServices,
    charge_point_id: ChargePointId,
    limits: LocalListLimits,
    wanted: dict[str, AuthorizationDecision],
    charger: ChargerLocalList,
) -> _Attempt:
    """Plan and send; stop at the first answer other than Accepted (then what the charger holds
    is unknown, and forgotten)."""
    try:
        plan = plan_send_local_list(
            wanted,
            charger,
            local_auth_list_max_length=limits.local_auth_list_max_length,
            send_local_list_max_length=limits.send_local_list_max_length,
        )
    except LocalListTooLong as exc:
        raise LocalListRefused(
            f"charge point {charge_point_id}: {exc}; nothing was sent (block or remove id tags, "
            "or leave this charger without a local list)"
        ) from None
    except ValueError as exc:
        raise LocalListRefused(f"charge point {charge_point_id}: {exc}") from None
    local_lists = services.store.local_lists
    send_ids: list[int] = []
    version = charger.version
    for request in plan.requests:
        send_id = await local_lists.record_send(
            charge_point_id,
            list_version=request.list_version,
            update_type=request.update_type,
            entry_count=len(request.local_authorization_list),
            now=services.clock.now(),
        )
        send_ids.append(send_id)
        try:
            answer = await send_command(services, charge_point_id, send_local_list_request(request))
        except (CommandError, OcppError, ChargePointDisconnected):
            await local_lists.forget_held(charge_point_id)
            raise
        assert isinstance(answer, SendLocalListResponse)
        await local_lists.set_send_status(send_id, answer.status.value)
        if answer.status is not enums.UpdateStatus.ACCEPTED:
            await local_lists.forget_held(charge_point_id)
            return _Attempt(answer.status, version, tuple(send_ids))
        await local_lists.apply_accepted(
            charge_point_id,
            list_version=request.list_version,
            update_type=request.update_type,
            entries=request.local_authorization_list,
            now=services.clock.now(),
        )
        version = request.list_version
    return _Attempt(enums.UpdateStatus.ACCEPTED, version, tuple(send_ids))


def send_local_list_request(request: SendLocalListToSend) -> SendLocalListRequest:
    """The planned request as the typed OCPP message (§6.41)."""
    return SendLocalListRequest(
        list_version=request.list_version,
        update_type=enums.UpdateType(request.update_type.value),
        local_authorization_list=[_authorization_data(e) for e in request.local_authorization_list],
    )


def _authorization_data(entry: LocalListEntry) -> AuthorizationData:
    info = entry.id_tag_info
    return AuthorizationData(
        id_tag=entry.id_tag,
        id_tag_info=None
        if info is None
        else IdTagInfo(
            status=enums.AuthorizationStatus(info.status.value),
            expiry_date=info.expiry_date,
            parent_id_tag=info.parent_id_tag,
        ),
    )


# ---- automatic resync after id tag changes ---------------------------------------------------


@dataclass
class _LocalListWork:
    """The per-process state of local list syncs: one lock per charger, the resyncs waiting out
    their debounce, and every background task (kept referenced until done)."""

    locks: dict[ChargePointId, asyncio.Lock] = field(default_factory=dict)
    waiting: set[ChargePointId] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def lock(self, charge_point_id: ChargePointId) -> asyncio.Lock:
        return self.locks.setdefault(charge_point_id, asyncio.Lock())


# Keyed by the process's live connections, which live exactly as long as its services.
_WORK: weakref.WeakKeyDictionary[Stations, _LocalListWork] = weakref.WeakKeyDictionary()


def _work_of(services: CsmsServices) -> _LocalListWork:
    work = _WORK.get(services.stations)
    if work is None:
        work = _WORK[services.stations] = _LocalListWork()
    return work


async def resync_after_id_tag_change(services: CsmsServices) -> None:
    """Bring the local lists of connected chargers up to date after an id tag changed.

    Returns at once: each charger's sync runs in the background after
    :data:`RESYNC_DEBOUNCE_S`, and a change while one is waiting joins it. In a cluster the
    other nodes are told too, and each resyncs the chargers it holds
    (:func:`resync_chargers_held_here`): a charger's syncs stay on the node holding its
    connection, one at a time.
    """
    await resync_chargers_held_here(services)
    if services.stations.cluster is not None:
        services.stations.cluster.id_tags_changed()


async def resync_chargers_held_here(services: CsmsServices) -> None:
    """:func:`resync_after_id_tag_change` for the chargers connected to this node only (what a
    cluster node does when another node changed an id tag)."""
    work = _work_of(services)
    loop = asyncio.get_running_loop()
    for link in services.stations:
        charge_point_id = link.state.charge_point_id
        if link.state.registration is not Registration.REGISTERED:
            continue
        if charge_point_id in work.waiting:
            continue  # the waiting resync reads the id tags when it runs
        work.waiting.add(charge_point_id)
        task = loop.create_task(
            _resync(services, work, charge_point_id), name=f"local list resync {charge_point_id}"
        )
        work.tasks.add(task)
        task.add_done_callback(_finished(work))


async def wait_for_resyncs(services: CsmsServices) -> None:
    """Wait until every background resync has finished (tests; a graceful stop)."""
    work = _work_of(services)
    while work.tasks:
        await asyncio.gather(*list(work.tasks), return_exceptions=True)


async def _resync(
    services: CsmsServices, work: _LocalListWork, charge_point_id: ChargePointId
) -> None:
    try:
        await asyncio.sleep(RESYNC_DEBOUNCE_S)
    finally:
        work.waiting.discard(charge_point_id)
    try:
        if services.stations.get(charge_point_id) is None or not await resyncs_on_id_tag_change(
            services, charge_point_id
        ):
            return
        result = await sync_local_list(services, charge_point_id)
    except (LocalListError, CommandError, OcppError, ChargePointDisconnected, StoreError) as exc:
        log.warning(
            "charge point %s: local list not brought up to date after an id tag change: %s",
            charge_point_id,
            exc,
        )
        return
    if result.sends:
        log.info(
            "charge point %s: local list resynced after an id tag change (version %d, %d "
            "SendLocalList)",
            charge_point_id,
            result.version,
            len(result.sends),
        )


async def resyncs_on_id_tag_change(services: CsmsServices, charge_point_id: ChargePointId) -> bool:
    """Whether an id tag change resyncs this charger (while it is connected): the operator has
    synced its list before, and it does not report it disabled."""
    if not await services.store.local_lists.has_sends(charge_point_id):
        return False
    reported = await services.store.configuration.values(charge_point_id, [LOCAL_AUTH_LIST_ENABLED])
    value = reported.get(LOCAL_AUTH_LIST_ENABLED)
    return value is None or value.strip().lower() != "false"


def _finished(work: _LocalListWork) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        work.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    return done
