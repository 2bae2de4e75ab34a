"""The box's own Ed25519 key, made on the box at provisioning; it signs the receipts."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playlists.signing import load_or_create_private_key

DEVICE_KEY_FILE = "device_key.pem"


def load_or_create_device_key(data_dir: Path) -> Ed25519PrivateKey:
    """Load ``data_dir/device_key.pem`` or make it (mode 0600, whole or absent)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return load_or_create_private_key(data_dir / DEVICE_KEY_FILE)
