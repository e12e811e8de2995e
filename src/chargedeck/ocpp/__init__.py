"""Sans-I/O OCPP-J 1.6: framing, typed messages, validation and the per-connection session.

Nothing in this package does I/O or reads a clock (STYLE rule 1): bytes and ``now`` come in,
events, frames to send and deadlines go out.
"""
