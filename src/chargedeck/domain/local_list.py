"""Planning the SendLocalList requests that bring a charger's Local Authorization List up to date.

OCPP 1.6 §3.5.2 (Local Authorization List) and §5.15 (SendLocalList): only the CSMS changes the
list, by a Full update (replaces it; every entry carries an IdTagInfo) or a Differential one
(adds, changes, or removes the entries without IdTagInfo); each request carries a listVersion,
and the charger answers VersionMismatch to a Differential update whose version is not above the
one it holds. A request holds at most ``SendLocalListMaxLength`` entries and the list at most
``LocalAuthListMaxLength`` (§9 configuration keys); a Wallbox reports 450 and 5000000
(field notes §2.1). The planner does no I/O: it turns "what we want" and "what the charger has"
into the requests to send, in order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from chargedeck.domain.id_tags import AuthorizationDecision, check_id_tag

# GetLocalListVersion answers -1 when the charger has no Local Authorization List (§5.10).
LIST_NOT_SUPPORTED_VERSION = -1


class UpdateType(enum.StrEnum):
    """OCPP 1.6 UpdateType: replace the list (Full) or patch it (Differential)."""

    FULL = "Full"
    DIFFERENTIAL = "Differential"


class LocalListTooLong(ValueError):
    """The wanted list has more entries than the charger's LocalAuthListMaxLength."""


@dataclass(frozen=True)
class LocalListEntry:
    """An AuthorizationData: an id tag and its IdTagInfo; no IdTagInfo = remove (Differential)."""

    id_tag: str
    id_tag_info: AuthorizationDecision | None


@dataclass(frozen=True)
class ChargerLocalList:
    """What ChargeDeck knows of the list a charger holds.

    ``version`` is the charger's listVersion (GetLocalListVersion, or the last update it
    accepted; 0 = no list). ``entries`` is what that version holds, by id tag, or ``None`` when
    unknown (for example after a VersionMismatch or Failed answer, or a version that differs from
    the last one ChargeDeck sent): then only a Full update can say what the charger holds.
    """

    version: int
    entries: Mapping[str, AuthorizationDecision] | None


@dataclass(frozen=True)
class SendLocalListToSend:
    """One SendLocalList request, in the spec's terms."""

    list_version: int
    update_type: UpdateType
    local_authorization_list: tuple[LocalListEntry, ...]


@dataclass(frozen=True)
class LocalListPlan:
    """The requests to send, in order, and the list the charger holds once all are Accepted.

    If one is not Accepted, stop: what the charger holds is then unknown, and the next plan
    (with ``entries=None``) starts with a Full update, as OCPP 1.6 advises after Failed or
    VersionMismatch (ocpp16-facts-and-peers §1.6).
    """

    requests: tuple[SendLocalListToSend, ...]
    result: ChargerLocalList


def plan_send_local_list(
    wanted: Mapping[str, AuthorizationDecision],
    charger: ChargerLocalList | None,
    *,
    local_auth_list_max_length: int,
    send_local_list_max_length: int,
) -> LocalListPlan:
    """The SendLocalList requests that turn the charger's list into ``wanted``.

    ``charger`` is ``None`` when nothing is known of its list. The update is Full when the
    charger's entries are unknown, or when the difference holds more entries than the full list;
    Differential otherwise (a differential update leaves the other entries in force meanwhile).
    Nothing to change: no requests.

    A list longer than ``send_local_list_max_length`` goes in parts, each one version higher
    than the last. A Full list in parts is sent as one Full request with the first part, then
    Differential requests adding the rest: a second Full request would replace the first part
    instead of adding to it, and the increasing versions keep each Differential part above the
    version the previous part installed. A differential plan removes before it changes and adds,
    so that no intermediate list is longer than both the old and the new one.

    Id tags are compared ignoring case (OCPP 1.6 §7.28 IdToken). Raises
    :class:`LocalListTooLong` naming both numbers when ``wanted`` exceeds
    ``local_auth_list_max_length``, and ValueError for two wanted tags that differ only in case,
    an id tag longer than an IdToken, a charger without a list (version -1), or a
    ``send_local_list_max_length`` below 1.
    """
    if send_local_list_max_length < 1:
        raise ValueError(
            f"SendLocalListMaxLength is {send_local_list_max_length}: the charger takes no "
            "entries in a SendLocalList request"
        )
    if len(wanted) > local_auth_list_max_length:
        raise LocalListTooLong(
            f"the local list has {len(wanted)} id tags, more than the "
            f"{local_auth_list_max_length} the charger holds (LocalAuthListMaxLength)"
        )
    if charger is not None and charger.version == LIST_NOT_SUPPORTED_VERSION:
        raise ValueError(
            "the charger has no Local Authorization List (GetLocalListVersion answered -1)"
        )
    if charger is not None and charger.version < 0:
        raise ValueError(f"a listVersion is 0 or more, the charger holds {charger.version}")
    wanted_by_key = _by_key(wanted)
    version = 0 if charger is None else charger.version
    full = tuple(LocalListEntry(tag, info) for tag, info in wanted_by_key.values())
    if charger is None or charger.entries is None:
        update_type, entries = UpdateType.FULL, full
    else:
        difference = _difference(_by_key(charger.entries), wanted_by_key)
        if not difference:
            return LocalListPlan((), ChargerLocalList(charger.version, wanted))
        if len(difference) > len(full):
            update_type, entries = UpdateType.FULL, full
        else:
            update_type, entries = UpdateType.DIFFERENTIAL, difference
    parts = [
        entries[start : start + send_local_list_max_length]
        for start in range(0, len(entries), send_local_list_max_length)
    ] or [()]
    requests = tuple(
        SendLocalListToSend(
            list_version=version + number,
            update_type=update_type if number == 1 else UpdateType.DIFFERENTIAL,
            local_authorization_list=part,
        )
        for number, part in enumerate(parts, start=1)
    )
    return LocalListPlan(requests, ChargerLocalList(requests[-1].list_version, wanted))


def _by_key(
    entries: Mapping[str, AuthorizationDecision],
) -> dict[str, tuple[str, AuthorizationDecision]]:
    """Entries by case-folded id tag; ValueError for two tags that differ only in case."""
    by_key: dict[str, tuple[str, AuthorizationDecision]] = {}
    for id_tag, info in entries.items():
        check_id_tag(id_tag)
        key = id_tag.casefold()
        if key in by_key:
            raise ValueError(
                f"id tags {by_key[key][0]!r} and {id_tag!r} differ only in case; a charger "
                "treats them as one IdToken (OCPP 1.6 §7.28)"
            )
        by_key[key] = (id_tag, info)
    return by_key


def _difference(
    held: Mapping[str, tuple[str, AuthorizationDecision]],
    wanted: Mapping[str, tuple[str, AuthorizationDecision]],
) -> tuple[LocalListEntry, ...]:
    """Removals, then changes, then additions, each in the order of its list."""
    removals = [LocalListEntry(tag, None) for key, (tag, _) in held.items() if key not in wanted]
    changes = [
        LocalListEntry(tag, info)
        for key, (tag, info) in wanted.items()
        if key in held and held[key][1] != info
    ]
    additions = [
        LocalListEntry(tag, info) for key, (tag, info) in wanted.items() if key not in held
    ]
    return (*removals, *changes, *additions)
