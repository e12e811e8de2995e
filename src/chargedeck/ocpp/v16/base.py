"""The base every OCPP 1.6 message Struct derives from, and the field types they share.

Wire names are camelCase (``rename="camel"``) and exist only in the codec (STYLE rule 6);
unknown fields are refused (the 1.6 JSON schemas all say ``additionalProperties: false``);
optional fields default to ``None`` and are omitted when encoding, because the schemas never
allow ``null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec


class Message(
    msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True, omit_defaults=True
):
    """A request or response payload of one OCPP 1.6 action."""


# OCPP 1.6 §7 "dateTime": ISO 8601 with an offset; receivers must accept fractional seconds
# and offsets, and we refuse zone-less times (the schemas say format date-time, RFC 3339).
DateTime = Annotated[datetime, msgspec.Meta(tz=True)]

# OCPP 1.6 §7 CiStringNType: case-insensitive strings of at most N characters.
CiString20 = Annotated[str, msgspec.Meta(max_length=20)]
CiString25 = Annotated[str, msgspec.Meta(max_length=25)]
CiString50 = Annotated[str, msgspec.Meta(max_length=50)]
CiString255 = Annotated[str, msgspec.Meta(max_length=255)]
CiString500 = Annotated[str, msgspec.Meta(max_length=500)]

# OCPP 1.6 §7.15 IdToken = CiString20.
IdToken = CiString20
