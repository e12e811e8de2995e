"""Reading a charger's configuration (GetConfiguration, OCPP 1.6 §5.8) and keeping what it
reported, so that capabilities come from the charger (STYLE rule 10) and operators can see them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chargedeck.csms.commands import send_command
from chargedeck.csms.context import CsmsServices
from chargedeck.domain.charger_models import GENERIC_OCPP16, ChargerModel, model_for
from chargedeck.domain.ids import ChargePointId
from chargedeck.ocpp.v16.core import GetConfigurationRequest, GetConfigurationResponse
from chargedeck.store.configuration import ReportedKey
from chargedeck.store.records import ChargePointRecord


async def read_configuration(
    services: CsmsServices, charge_point_id: ChargePointId, keys: Sequence[str] | None = None
) -> GetConfigurationResponse:
    """Ask the charger for ``keys`` (None: every key it has), store its answer and return it.

    Callers keep ``keys`` at most 50 long: Wallbox reports GetConfigurationMaxKeys = 50 (field
    notes §2.1), and the key is required of every charger (§9.1). Raises what ``send_command``
    raises.
    """
    answer = await send_command(
        services,
        charge_point_id,
        GetConfigurationRequest(key=None if keys is None else list(keys)),
    )
    assert isinstance(answer, GetConfigurationResponse)
    await services.store.configuration.store_reported(
        charge_point_id,
        [
            ReportedKey(key=entry.key, value=entry.value, readonly=entry.read_only)
            for entry in answer.configuration_key or ()
        ],
        unknown_keys=answer.unknown_key or (),
        now=services.clock.now(),
        complete=keys is None,
    )
    return answer


def charger_model(charge_point: ChargePointRecord | None) -> ChargerModel:
    """The charger-model row of a charger, from its last BootNotification; the generic row
    before it has sent one (domain/charger_models.py)."""
    if charge_point is None or charge_point.vendor is None:
        return GENERIC_OCPP16
    return model_for(charge_point.vendor, charge_point.model or "")


def reported_value(answer: GetConfigurationResponse, key: str) -> str | None:
    """The value of ``key`` (ignoring case, §7.29 CiString50) in a GetConfiguration answer;
    None when the charger did not report it or reported it without a value."""
    wanted = key.lower()
    for entry in answer.configuration_key or ():
        if entry.key.lower() == wanted:
            return entry.value
    return None


def parse_boolean(key: str, value: str) -> bool:
    """A boolean configuration value (§9: "true"/"false", any case); ValueError naming the key
    and the value otherwise."""
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{key} is {value!r}, expected true or false")
    return text == "true"


def parse_count(key: str, value: str) -> int:
    """A non-negative integer configuration value; ValueError naming the key and the value."""
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,18}", text) is None:
        raise ValueError(f"{key} is {value!r}, expected a whole number of 0 or more")
    return int(text)
