"""What a simulated charger knows about id tags by itself: its Local Authorization List and its
Authorization Cache (OCPP 1.6 §3.5, §5.15; facts §1.6).

The list is written only by the CSMS (SendLocalList); the cache keeps the latest IdTagInfo of
every tag the CSMS answered for (Authorize, StartTransaction, StopTransaction), but never of a
tag in the list. Tags are compared ignoring case (IdToken is a CiString, §7.28). Pure: time
comes in as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chargedeck.ocpp.v16.enums import AuthorizationStatus, UpdateStatus, UpdateType
from chargedeck.ocpp.v16.local_auth import SendLocalListRequest
from chargedeck.ocpp.v16.types import IdTagInfo


def is_valid(info: IdTagInfo, now: datetime) -> bool:
    """Accepted and not past its expiryDate (§7.27: expired entries count as Expired)."""
    if info.status is not AuthorizationStatus.ACCEPTED:
        return False
    return info.expiry_date is None or info.expiry_date > now


def same_tag(first: str, second: str) -> bool:
    """IdTokens are case-insensitive (OCPP 1.6 §7.28)."""
    return first.casefold() == second.casefold()


@dataclass
class LocalAuthorization:
    """The list (with its version) and the cache of one charger."""

    list_version: int = 0
    local_list: dict[str, tuple[str, IdTagInfo]] = field(default_factory=dict)
    cache: dict[str, tuple[str, IdTagInfo]] = field(default_factory=dict)

    def lookup(self, id_tag: str, *, use_list: bool, use_cache: bool) -> IdTagInfo | None:
        """What the list (first: its entries win, §3.5.3) or the cache says of ``id_tag``."""
        key = id_tag.casefold()
        if use_list and key in self.local_list:
            return self.local_list[key][1]
        if use_cache and key in self.cache:
            return self.cache[key][1]
        return None

    def remember(self, id_tag: str, info: IdTagInfo | None) -> None:
        """Keep the CSMS's latest verdict in the cache (§3.5.2), unless the tag is listed."""
        key = id_tag.casefold()
        if info is None or key in self.local_list:
            return
        self.cache[key] = (id_tag, info)

    def clear_cache(self) -> None:
        self.cache.clear()

    def reported_version(self) -> int:
        """GetLocalListVersion (§5.10): 0 for an empty list, else the version last installed."""
        return self.list_version if self.local_list else 0

    def apply(
        self, request: SendLocalListRequest, *, max_per_message: int, max_length: int
    ) -> UpdateStatus:
        """SendLocalList (§5.15): a Full update replaces the list, a Differential one patches it
        (an entry without idTagInfo is deleted) and must carry a higher version than the one
        held; Failed when an update has too many entries or a Full entry has no idTagInfo."""
        entries = request.local_authorization_list or []
        if len(entries) > max_per_message:
            return UpdateStatus.FAILED
        if request.update_type is UpdateType.FULL:
            if any(entry.id_tag_info is None for entry in entries) or len(entries) > max_length:
                return UpdateStatus.FAILED
            self.local_list = {
                entry.id_tag.casefold(): (entry.id_tag, entry.id_tag_info)
                for entry in entries
                if entry.id_tag_info is not None
            }
        else:
            if request.list_version <= self.list_version:
                return UpdateStatus.VERSION_MISMATCH
            patched = dict(self.local_list)
            for entry in entries:
                key = entry.id_tag.casefold()
                if entry.id_tag_info is None:
                    patched.pop(key, None)
                else:
                    patched[key] = (entry.id_tag, entry.id_tag_info)
            if len(patched) > max_length:
                return UpdateStatus.FAILED
            self.local_list = patched
        self.list_version = request.list_version
        for key in self.local_list:
            self.cache.pop(key, None)  # §3.5.3: listed tags are not cached
        return UpdateStatus.ACCEPTED
