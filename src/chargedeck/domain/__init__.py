"""Business rules over plain values and a ``now`` passed in; no I/O, no clock (STYLE rule 1)."""
