"""Simulator settings from CHANNELSIM_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from channelsim.faults import Fen, Millis, Rate, SettleDelayMs


class ChannelSimSettings(BaseSettings):
    """Where to listen, the shared HMAC secret, our merchant at the bank, fees and fault knobs."""

    model_config = SettingsConfigDict(
        env_prefix="CHANNELSIM_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8601, ge=0, le=65535)
    secret: SecretStr = Field(min_length=1)
    channel: str = Field(default="banksim", pattern=r"^[a-z0-9_-]{1,32}$")
    merchant_id: str = Field(default="PAYSUITE01", min_length=1, max_length=32)
    fee_bps: int = Field(default=60, ge=0, le=10_000)
    # The layout of the card channel's daily bill: UnionPay's ZM file, zipped (unionpay-zm), or
    # the simulator's own CSV of earlier versions (csv). The merchant's short name in GBK is
    # written in each ZM line's 二级商户简称.
    bill_format: Literal["unionpay-zm", "csv"] = "unionpay-zm"
    merchant_short_name: str = Field(default="支付套件", max_length=16)
    # What the bank charges per payout it makes, in fen (a flat fee; none on a declined one).
    payout_fee_fen: int = Field(default=100, ge=0, le=1_000_000)
    # The platform's reserve (备付金) account at the bank, and its balance before any entry.
    reserve_account_no: str = Field(default="6216600000000001688", pattern=r"^[0-9]{6,32}$")
    reserve_account_owner: str = Field(default="Paysuite Payments Co., Ltd.", min_length=1)
    reserve_opening_fen: int = Field(default=0, ge=-(10**15), le=10**15)
    bank_name: str = Field(default="Bank Simulator", min_length=1)
    bank_bic: str = Field(default="BKSMCNSHXXX", pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
    state_file: Path | None = None
    seed: int | None = None

    latency_ms: Millis = 0
    decline_rate: Rate = 0.0
    timeout_rate: Rate = 0.0
    timeout_sleep_ms: Millis = 30_000
    error_rate: Rate = 0.0
    processing_rate: Rate = 0.0
    processing_ms: Millis = 2_000
    verify_error_rate: Rate = 0.0
    false_success_rate: Rate = 0.0
    payout_decline_rate: Rate = 0.0
    payout_timeout_rate: Rate = 0.0
    payout_processing_rate: Rate = 0.0
    payout_processing_ms: Millis = 2_000
    payout_return_rate: Rate = 0.0
    payout_return_after_ms: Millis = 5_000
    reserve_settle_delay_ms: SettleDelayMs = 9 * 3_600_000
    reserve_short_rate: Rate = 0.0
    reserve_short_fen: Fen = 100
    reserve_missing_rate: Rate = 0.0
    verify_limit_per_card: int = Field(default=5, ge=1, le=1_000_000)

    @field_validator("merchant_short_name")
    @classmethod
    def _gbk(cls, name: str) -> str:
        name.encode("gbk")  # a UnicodeEncodeError (a ValueError) refuses it
        return name

    @cached_property
    def secret_bytes(self) -> bytes:
        """The secret as the signatures use it, read once (every request signs and verifies)."""
        return self.secret.get_secret_value().encode()
