"""ChargeDeck server api."""
