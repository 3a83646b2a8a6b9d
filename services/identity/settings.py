"""Identity settings from IDENTITY_* variables; PII keys are required outside dev."""

from __future__ import annotations

import base64
import hashlib
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from identity.domain.limits import LimitPolicy, YearWindow
from paysuite.runtime.settings import PagedServiceSettings


def _dev_key(label: str) -> str:
    return base64.b64encode(hashlib.sha256(f"paysuite-dev-{label}".encode()).digest()).decode()


DEV_PII_KEYS = f"dev1:{_dev_key('pii')}"
DEV_BLIND_INDEX_KEY = _dev_key("blind-index")


class IdentitySettings(PagedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"
    port: int = 50053
    pii_keys: SecretStr = SecretStr("")
    blind_index_key: SecretStr = SecretStr("")
    gateway_addr: str = Field(default="localhost:50051", validation_alias="GATEWAY_ADDR")
    year_window: YearWindow = YearWindow.ANNIVERSARY
    class_i_lifetime_fen: int = 100_000
    class_ii_yearly_fen: int = 10_000_000
    class_iii_yearly_fen: int = 20_000_000
    daily_one_factor_fen: int = 100_000
    daily_two_factors_fen: int = 500_000
    daily_certificate_fen: int | None = None
    attempts_per_user_per_day: int = 10
    attempts_per_person_per_day: int = 10
    one_user_per_person: bool = True

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

    def limit_policy(self) -> LimitPolicy:
        return LimitPolicy(
            class_i_lifetime=self.class_i_lifetime_fen,
            class_ii_yearly=self.class_ii_yearly_fen,
            class_iii_yearly=self.class_iii_yearly_fen,
            daily_one_factor=self.daily_one_factor_fen,
            daily_two_factors=self.daily_two_factors_fen,
            daily_certificate=self.daily_certificate_fen,
            year_window=self.year_window,
        )
