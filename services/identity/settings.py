"""Identity settings from IDENTITY_* variables; PII keys are required outside dev."""

from __future__ import annotations

import base64
import hashlib
from typing import Self

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from paysuite.runtime.settings import ServiceSettings


def _dev_key(label: str) -> str:
    return base64.b64encode(hashlib.sha256(f"paysuite-dev-{label}".encode()).digest()).decode()


DEV_PII_KEYS = f"dev1:{_dev_key('pii')}"
DEV_BLIND_INDEX_KEY = _dev_key("blind-index")


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"
    port: int = 50053
    pii_keys: SecretStr = SecretStr("")
    blind_index_key: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _require_keys(self) -> Self:
        if self.is_dev:
            if not self.pii_keys.get_secret_value():
                object.__setattr__(self, "pii_keys", SecretStr(DEV_PII_KEYS))
            if not self.blind_index_key.get_secret_value():
                object.__setattr__(self, "blind_index_key", SecretStr(DEV_BLIND_INDEX_KEY))
            return self
        keys, index_key = self.pii_keys.get_secret_value(), self.blind_index_key.get_secret_value()
        if not keys or not index_key:
            raise ValueError("IDENTITY_PII_KEYS and IDENTITY_BLIND_INDEX_KEY are required")
        if DEV_PII_KEYS.split(":", 1)[1] in keys or index_key == DEV_BLIND_INDEX_KEY:
            raise ValueError("dev PII keys must not be used outside dev")
        return self
