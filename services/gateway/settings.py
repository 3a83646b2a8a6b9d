"""Gateway settings from GATEWAY_* variables, plus the addresses of the services it calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from gateway.channel_settings import (
    CHANNEL_NAME_PATTERN,
    RESERVED_CHANNEL,
    ChannelKind,
    ChannelSettings,
    dev_channels,
)
from gateway.domain.channel_selection import ChannelHours
from paysuite.runtime.settings import PagedServiceSettings


class GatewaySettings(PagedServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    service_name: str = "gateway"
    port: int = 50051
    ledger_addr: str = Field(default="localhost:50052", validation_alias="LEDGER_ADDR")
    identity_addr: str = Field(default="localhost:50053", validation_alias="IDENTITY_ADDR")
    # Every channel by name; in dev, unset means the three simulators make run starts.
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    # The bank channel that verifies card elements for identity.
    verify_channel: str = "banksim"
    # The bank channel that pays out (merchant settlements, wallet withdrawals): a withdrawal
    # pays the card by the quick-pay agreement signed at verification, so in practice the same.
    payout_channel: str = "banksim"
    # How often the janitor reads the payout channel's lists of returned payouts (退票).
    payout_returns_check_seconds: float = Field(default=300.0, gt=0)
    channel_zone: str = "Asia/Shanghai"
    # The listener for channel notifications; port 0 picks a free one.
    notify_host: str = "127.0.0.1"
    notify_port: int = Field(default=50061, ge=0, le=65535)
    # Where channels post notifications; unset: http://127.0.0.1:<the listener's port>.
    notify_base_url: str = ""
    outbox_poll_seconds: float = 1.0
    # How long the relay, once woken, waits for more messages to share its calls, and the
    # sequencer for more events to number in one run: fewer, larger batches for a little delay.
    # Only the sequencer's is on a merchant's path: an asynchronous payment's definite answer
    # is its numbered event.
    outbox_linger_seconds: float = Field(default=0.05, ge=0)
    events_linger_seconds: float = Field(default=0.01, ge=0)
    # Egress routes (proxies) per channel as JSON, re-read when it changes; unset: direct.
    egress_routes_file: Path | None = None
    # Channel selection rules as JSON, re-read when it changes; unset: every channel of the
    # payment method, in equal shares.
    channel_rules_file: Path | None = None
    # Payments a merchant may create per second and at once, per gateway replica (a token
    # bucket per merchant in each process); a rate of 0 means no limit.
    payment_rate_per_merchant: float = Field(default=1000.0, ge=0)
    payment_burst_per_merchant: int = Field(default=2000, ge=1)

    @model_validator(mode="after")
    def _complete_channels(self) -> Self:
        channels = self.channels
        if not channels:
            if not self.is_dev:
                raise ValueError(
                    "GATEWAY_CHANNELS__<NAME>__KIND, __URL and __SECRET are required outside dev"
                )
            channels = dev_channels()
        completed: dict[str, ChannelSettings] = {}
        for name, channel in channels.items():
            if not re.match(CHANNEL_NAME_PATTERN, name):
                raise ValueError(f"channel name {name!r} must match {CHANNEL_NAME_PATTERN}")
            if name == RESERVED_CHANNEL:
                raise ValueError(f"channel name {name!r} is the wallet balance's own")
            secret = channel.secret.get_secret_value()
            variable = f"GATEWAY_CHANNELS__{name.upper()}__SECRET"
            if not secret:
                if not self.is_dev:
                    raise ValueError(f"{variable} is required outside dev")
                channel = channel.model_copy(update={"secret": SecretStr(channel.kind.dev_secret)})
            elif not self.is_dev and secret == channel.kind.dev_secret:
                raise ValueError(f"{variable}: the dev secret must not be used outside dev")
            channel.hours(self.channel_zone)  # fail at start, not at the first payment
            completed[name] = channel
        object.__setattr__(self, "channels", completed)
        for variable, name in (
            ("GATEWAY_VERIFY_CHANNEL", self.verify_channel),
            ("GATEWAY_PAYOUT_CHANNEL", self.payout_channel),
        ):
            bank = completed.get(name)
            if bank is None or bank.kind is not ChannelKind.BANK:
                raise ValueError(f"{variable} {name!r} is no bank channel")
        return self

    def channel_hours(self) -> dict[str, ChannelHours]:
        """Each channel's closed windows, by channel name."""
        return {name: c.hours(self.channel_zone) for name, c in self.channels.items()}

    @model_validator(mode="after")
    def _require_public_notify_url(self) -> Self:
        # Wallets post notifications from outside: a loopback default would lose every one.
        if not self.is_dev and not self.notify_base_url:
            raise ValueError("GATEWAY_NOTIFY_BASE_URL is required outside dev")
        return self
