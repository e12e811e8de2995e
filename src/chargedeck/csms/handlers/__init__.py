"""ChargeDeck csms handlers."""
