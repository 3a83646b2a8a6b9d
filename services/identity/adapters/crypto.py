"""Application-level PII encryption (AES-256-GCM with a key id) and keyed blind indexes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Sealed:
    """Ciphertext with the id of the key that sealed it, for rotation."""

    key_id: str
    blob: bytes


class PiiVault:
    """Seals PII with the active key, opens with any known key, and indexes by keyed HMAC."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str, index_key: bytes) -> None:
        if active_key_id not in keys:
            raise ValueError("the active PII key id is not among the keys")
        for key in keys.values():
            if len(key) != 32:
                raise ValueError("PII keys must be 32 bytes (AES-256)")
        if len(index_key) < 32:
            raise ValueError("the blind-index key must be at least 32 bytes")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id
        self._index_key = index_key

    @property
    def active_key_id(self) -> str:
        return self._active

    def seal(self, plaintext: str, *, context: str) -> Sealed:
        """Encrypts; the context (e.g. "user:U1:phone") is bound as associated data."""
        nonce = os.urandom(_NONCE_BYTES)
        cipher = self._ciphers[self._active]
        blob = nonce + cipher.encrypt(nonce, plaintext.encode(), context.encode())
        return Sealed(self._active, blob)

    def open(self, sealed: Sealed, *, context: str) -> str:
        cipher = self._ciphers[sealed.key_id]
        nonce, body = sealed.blob[:_NONCE_BYTES], sealed.blob[_NONCE_BYTES:]
        return cipher.decrypt(nonce, body, context.encode()).decode()

    def blind_index(self, kind: str, value: str) -> str:
        """A keyed HMAC for equality lookups; useless without the key, unlike a plain hash."""
        mac = hmac.new(self._index_key, f"{kind}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()


def parse_keys(spec: str) -> tuple[dict[str, bytes], str]:
    """Parses "k2:BASE64,k1:BASE64"; the first key is the active one."""
    keys: dict[str, bytes] = {}
    active = ""
    for item in spec.split(","):
        key_id, _, encoded = item.strip().partition(":")
        if not key_id or not encoded:
            raise ValueError("PII keys must look like 'id:base64,id:base64'")
        keys[key_id] = base64.b64decode(encoded)
        active = active or key_id
    return keys, active
