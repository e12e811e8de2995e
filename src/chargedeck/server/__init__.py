"""ChargeDeck server."""
