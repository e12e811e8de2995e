"""Publishing to the machine's Mosquitto as a meter adapter would: with Mosquitto's own
``mosquitto_pub`` (a third-party client; aiomqtt's and paho's publishers log spurious ERROR lines,
which the suite treats as failures)."""

from __future__ import annotations

import asyncio
import subprocess

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883
PUBLISH_TIMEOUT_S = 15.0


async def publish(
    topic: str, payload: bytes, *, port: int = BROKER_PORT, retain: bool = False
) -> None:
    """Publish ``payload`` on ``topic`` with QoS 1 (an empty retained payload clears it)."""
    argv = ["mosquitto_pub", "-h", BROKER_HOST, "-p", str(port), "-t", topic, "-q", "1"]
    argv += ["-r"] if retain else []
    argv += ["-s"] if payload else ["-n"]
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(payload), PUBLISH_TIMEOUT_S)
    assert process.returncode == 0, f"mosquitto_pub failed: {output.decode(errors='replace')}"
