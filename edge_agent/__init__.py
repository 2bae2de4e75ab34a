"""The unattended box agent: MQTT link, trust checks, media cache, timeline player, durable outbox.

Installs light on a Raspberry Pi: paho-mqtt, cryptography, pydantic and the standard library only.
The process is wired in one place, :func:`edge_agent.main.run`.
"""

__version__ = "0.1.0"
