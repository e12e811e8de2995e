"""OCPP 1.6 messages of every feature profile and the Security extension, and the action table."""
