"""ChargeDeck simulator."""
