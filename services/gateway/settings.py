"""Gateway settings from GATEWAY_* variables, plus the addresses of the services it calls."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from paysuite.runtime.settings import ServiceSettings

DEV_BANK_SECRET = "paysuite-dev-bank-secret"


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 50051
    ledger_addr: str = Field(default="localhost:50052", validation_alias="LEDGER_ADDR")
    identity_addr: str = Field(default="localhost:50053", validation_alias="IDENTITY_ADDR")
    bank_channel_name: str = "banksim"
    bank_channel_url: str = "http://127.0.0.1:8601"
    bank_channel_secret: SecretStr = SecretStr("")
    bank_channel_merchant_id: str = "PAYSUITE01"
    bank_channel_timeout_seconds: float = 10.0
    bank_channel_confirm_by_query: bool = True
    outbox_poll_seconds: float = 1.0
    # Egress routes (proxies) per channel as JSON, re-read when it changes; unset: direct.
    routes_file: Path | None = None

    @model_validator(mode="after")
    def _require_channel_secret(self) -> Self:
        secret = self.bank_channel_secret.get_secret_value()
        if not secret:
            if not self.is_dev:
                raise ValueError("GATEWAY_BANK_CHANNEL_SECRET is required outside dev")
            object.__setattr__(self, "bank_channel_secret", SecretStr(DEV_BANK_SECRET))
        elif not self.is_dev and secret == DEV_BANK_SECRET:
            raise ValueError("the dev bank channel secret must not be used outside dev")
        return self
