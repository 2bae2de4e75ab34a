"""The controller's signing key: signs timelines, commands and acks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playlists.signing import key_id, load_or_create_private_key, public_key_b64, sign
from playlists.wire import WireDocument


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load the key, making it (mode 0600) on first start."""
        return cls(load_or_create_private_key(path))

    @property
    def kid(self) -> str:
        return key_id(self.private_key.public_key())

    @property
    def public_key_b64(self) -> str:
        return public_key_b64(self.private_key.public_key())

    def sign(self, document: WireDocument) -> bytes:
        return sign(document, self.private_key, self.kid)
