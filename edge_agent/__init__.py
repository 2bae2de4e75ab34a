"""The unattended box agent: MQTT link, trust checks, media cache, timeline player, durable outbox.

Installs light on a Raspberry Pi: paho-mqtt, cryptography, msgspec and the standard library only.
The process is wired in one place, :func:`edge_agent.main.run`.
"""

__version__ = "0.2.0"

# A wall clock earlier than this cannot be right (a Pi without a real-time clock boots in 1970).
# Raise it at each release.
BUILD_EPOCH_MS = 1_764_547_200_000  # 2025-12-01T00:00:00Z
