"""Distinct identifier types, so a charge point id cannot be passed where an id tag belongs."""

from __future__ import annotations

from typing import NewType

ChargePointId = NewType("ChargePointId", str)
IdTag = NewType("IdTag", str)
TransactionId = NewType("TransactionId", int)
ConnectorId = NewType("ConnectorId", int)
