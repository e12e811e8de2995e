"""The Local Auth List Management profile's commands (OCPP 1.6 §5.10 GetLocalListVersion,
§5.15 SendLocalList), with the checks made before a SendLocalList is sent.

``csms/local_lists.py`` is the operation that keeps the list in step with the id tags and records
what was sent; a SendLocalList sent by hand leaves ChargeDeck's record of the list behind, and
the next sync sees another listVersion on the charger and sends a Full list.
"""

from __future__ import annotations

from chargedeck.csms.commands.command import Command
from chargedeck.csms.context import CsmsServices
from chargedeck.ocpp.v16 import local_auth
from chargedeck.ocpp.v16.enums import UpdateType


def check_send_local_list(
    services: CsmsServices, charge_point_id: str, request: local_auth.SendLocalListRequest
) -> str | None:
    """§6.41: a listVersion is not negative (GetLocalListVersion's -1 means "no list"); in a
    Full update every entry carries its IdTagInfo (AuthorizationData, §7.1); an id tag appears
    once (IdToken compares ignoring case, §7.28)."""
    if request.list_version < 0:
        return f"listVersion is {request.list_version}; a list version is 0 or more"
    seen: set[str] = set()
    for entry in request.local_authorization_list or ():
        if request.update_type is UpdateType.FULL and entry.id_tag_info is None:
            return (
                f"id tag {entry.id_tag!r} has no idTagInfo: every entry of a Full update needs "
                "one (OCPP 1.6 §7.1 AuthorizationData)"
            )
        key = entry.id_tag.casefold()
        if key in seen:
            return (
                f"id tag {entry.id_tag!r} appears twice (id tags compare ignoring case, "
                "OCPP 1.6 §7.28)"
            )
        seen.add(key)
    return None


LOCAL_AUTH_COMMANDS: tuple[Command, ...] = (
    Command("GetLocalListVersion", local_auth.GetLocalListVersionRequest),
    Command("SendLocalList", local_auth.SendLocalListRequest, check=check_send_local_list),
)
