"""Recon settings from RECON_* variables, plus the gateway's address."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paysuite.runtime.settings import ServiceSettings


class ReconSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECON_", extra="ignore", frozen=True)

    service_name: str = "recon"
    port: int = 50054
    gateway_addr: str = Field(default="localhost:50051", validation_alias="GATEWAY_ADDR")
