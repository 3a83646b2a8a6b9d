"""Ledger settings from LEDGER_* environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from paysuite.runtime.settings import PagedServiceSettings


class LedgerSettings(PagedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    service_name: str = "ledger"
    port: int = 50052
