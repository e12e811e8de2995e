"""ChargeDeck csms."""
