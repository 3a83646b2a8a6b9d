"""Gateway settings from GATEWAY_* variables, plus the addresses of the services it calls."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from gateway.domain.channel_hours import ChannelHours
from paysuite.runtime.settings import ServiceSettings

DEV_BANK_SECRET = "paysuite-dev-bank-secret"
DEV_ALIPAY_SECRET = "paysuite-dev-alipay-secret"
DEV_WECHAT_SECRET = "paysuite-dev-wechat-secret"


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
    alipay_channel_name: str = "alipaysim"
    alipay_channel_url: str = "http://127.0.0.1:8602"
    alipay_channel_secret: SecretStr = SecretStr("")
    alipay_channel_merchant_id: str = "PAYSUITE01"
    wechat_channel_name: str = "wechatsim"
    wechat_channel_url: str = "http://127.0.0.1:8603"
    wechat_channel_secret: SecretStr = SecretStr("")
    wechat_channel_merchant_id: str = "PAYSUITE01"
    wallet_channel_timeout_seconds: float = 10.0
    # Daily windows a channel takes no calls in (outside its hours, its day-cut), in
    # channel_zone: "HH:MM-HH:MM" comma-separated, e.g. "23:55-00:05".
    bank_channel_closed_windows: str = ""
    alipay_channel_closed_windows: str = ""
    wechat_channel_closed_windows: str = ""
    channel_zone: str = "Asia/Shanghai"
    # The most one charge may be on a channel, in minor units; 0: no limit of ours.
    bank_channel_max_amount: int = Field(default=0, ge=0)
    alipay_channel_max_amount: int = Field(default=0, ge=0)
    wechat_channel_max_amount: int = Field(default=0, ge=0)
    # The listener for channel notifications; port 0 picks a free one.
    notify_host: str = "127.0.0.1"
    notify_port: int = Field(default=50061, ge=0, le=65535)
    # Where channels post notifications; unset: http://127.0.0.1:<the listener's port>.
    notify_base_url: str = ""
    outbox_poll_seconds: float = 1.0
    # Egress routes (proxies) per channel as JSON, re-read when it changes; unset: direct.
    routes_file: Path | None = None

    @model_validator(mode="after")
    def _require_channel_secret(self) -> Self:
        for channel, dev_secret in (
            ("bank", DEV_BANK_SECRET),
            ("alipay", DEV_ALIPAY_SECRET),
            ("wechat", DEV_WECHAT_SECRET),
        ):
            field = f"{channel}_channel_secret"
            secret = getattr(self, field).get_secret_value()
            if not secret:
                if not self.is_dev:
                    raise ValueError(f"GATEWAY_{field.upper()} is required outside dev")
                object.__setattr__(self, field, SecretStr(dev_secret))
            elif not self.is_dev and secret == dev_secret:
                raise ValueError(f"the dev {channel} channel secret must not be used outside dev")
        return self

    def channel_hours(self) -> dict[str, ChannelHours]:
        """Each channel's closed windows, by channel name."""
        return {
            self.bank_channel_name: ChannelHours.parse(
                self.bank_channel_closed_windows, self.channel_zone
            ),
            self.alipay_channel_name: ChannelHours.parse(
                self.alipay_channel_closed_windows, self.channel_zone
            ),
            self.wechat_channel_name: ChannelHours.parse(
                self.wechat_channel_closed_windows, self.channel_zone
            ),
        }

    def channel_max_amounts(self) -> dict[str, int]:
        """The largest single charge each channel takes (minor units), by channel name."""
        return {
            self.bank_channel_name: self.bank_channel_max_amount,
            self.alipay_channel_name: self.alipay_channel_max_amount,
            self.wechat_channel_name: self.wechat_channel_max_amount,
        }

    @model_validator(mode="after")
    def _check_channel_hours(self) -> Self:
        self.channel_hours()  # fail at start, not at the first payment
        return self

    @model_validator(mode="after")
    def _require_public_notify_url(self) -> Self:
        # Wallets post notifications from outside: a loopback default would lose every one.
        if not self.is_dev and not self.notify_base_url:
            raise ValueError("GATEWAY_NOTIFY_BASE_URL is required outside dev")
        return self
