"""Simulator settings from WALLETSIM_* environment variables; the flavour picks the protocol."""

from __future__ import annotations

import enum
from functools import cached_property

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from channelsim.faults import Millis, Rate, SettleDelayMs


class Flavour(enum.StrEnum):
    """Which real wallet the simulator behaves like on the wire."""

    ALIPAY = "alipay"
    WECHAT = "wechat"


DEFAULT_PORTS = {Flavour.ALIPAY: 8602, Flavour.WECHAT: 8603}


class WalletSimSettings(BaseSettings):
    """Where to listen, the shared HMAC secret, the flavour, our merchant, fees and fault knobs."""

    model_config = SettingsConfigDict(
        env_prefix="WALLETSIM_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)
    secret: SecretStr = Field(min_length=1)
    flavour: Flavour = Flavour.ALIPAY
    merchant_id: str = Field(default="PAYSUITE01", min_length=1, max_length=32)
    fee_bps: int = Field(default=60, ge=0, le=10_000)
    seed: int | None = None

    latency_ms: Millis = 0
    accepted_rate: Rate = 0.0
    decide_ms: Millis = 2_000
    decline_rate: Rate = 0.0
    false_failure_rate: Rate = 0.0
    timeout_rate: Rate = 0.0
    timeout_sleep_ms: Millis = 30_000
    error_rate: Rate = 0.0
    notify_delay_ms: Millis = 0
    notify_duplicate_rate: Rate = 0.0
    notify_drop_rate: Rate = 0.0
    notify_backoff_ms: Millis = 1_000
    notify_max_attempts: int = Field(default=0, ge=0, le=100)
    notify_timeout_ms: Millis = 5_000
    notify_copies: int = Field(default=1, ge=1, le=100)
    bill_download_corrupt_rate: Rate = 0.0
    # Notify hosts allowed besides loopback (on Kubernetes: the gateway's notify Service).
    notify_hosts: frozenset[str] = frozenset()
    # The bank keeping the platform's reserve account: each ended day's takings are paid in
    # there settle_delay_ms after the day ends (looked for every settle_check_seconds); unset,
    # the wallet settles nothing.
    bank_url: str | None = None
    settle_delay_ms: SettleDelayMs = 9 * 3_600_000
    settle_check_seconds: float = Field(default=10.0, gt=0, le=3_600)

    @property
    def channel(self) -> str:
        """The simulator's name in logs: alipaysim or wechatsim."""
        return f"{self.flavour.value}sim"

    @property
    def listen_port(self) -> int:
        return DEFAULT_PORTS[self.flavour] if self.port is None else self.port

    @cached_property
    def secret_bytes(self) -> bytes:
        """The secret as the signatures use it, read once (every request signs and verifies)."""
        return self.secret.get_secret_value().encode()
