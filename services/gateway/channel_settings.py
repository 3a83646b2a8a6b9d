"""One channel's settings: which protocol it speaks, where, with which secret, and its terms."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.domain.channel_selection import ChannelHours
from gateway.domain.model import PaymentMethod
from paysuite.dev_secrets import DEV_ALIPAY_SECRET, DEV_BANK_SECRET, DEV_WECHAT_SECRET

# Channel names go into environment variable names, ledger account ids and URL paths.
CHANNEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
# The wallet balance is a channel of its own, always there, booked in the ledger.
RESERVED_CHANNEL = "balance"


class ChannelKind(enum.StrEnum):
    """The protocol a channel speaks, and so the adapter and the payment method it serves."""

    BANK = "bank"
    ALIPAY = "alipay"
    WECHAT = "wechat"

    @property
    def method(self) -> PaymentMethod:
        return _METHODS[self]

    @property
    def dev_secret(self) -> str:
        return _DEV_SECRETS[self]


_METHODS = {
    ChannelKind.BANK: PaymentMethod.BANK_CARD,
    ChannelKind.ALIPAY: PaymentMethod.ALIPAY,
    ChannelKind.WECHAT: PaymentMethod.WECHAT_PAY,
}
_DEV_SECRETS = {
    ChannelKind.BANK: DEV_BANK_SECRET,
    ChannelKind.ALIPAY: DEV_ALIPAY_SECRET,
    ChannelKind.WECHAT: DEV_WECHAT_SECRET,
}


class ChannelSettings(BaseModel):
    """GATEWAY_CHANNELS__<NAME>__<FIELD>, e.g. GATEWAY_CHANNELS__BANKSIM__URL."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    kind: ChannelKind
    url: str = Field(min_length=1)
    secret: SecretStr = SecretStr("")
    merchant_id: str = Field(default="PAYSUITE01", min_length=1, max_length=32)
    timeout_seconds: float = Field(default=10.0, gt=0)
    # Some channels answer success for debits that did not happen: confirm each success with a
    # query (one more round trip per payment), where that has been seen of the channel.
    confirm_by_query: bool = False
    # Daily windows it takes no calls in (outside its hours, its day-cut), in the channel zone:
    # "HH:MM-HH:MM" comma-separated, e.g. "23:55-00:05".
    closed_windows: str = ""
    # The most one charge may be, in minor units; 0: no limit of ours.
    max_amount: int = Field(default=0, ge=0)
    # The most the channel may take in one accounting day (charges captured or in flight),
    # in minor units per currency; 0: no limit of ours.
    daily_limit: int = Field(default=0, ge=0)
    # Decline codes after which the payment is tried on the next candidate channel, as JSON
    # (e.g. '["CARD_NOT_SUPPORTED"]'): only codes the channel guarantees charged nothing.
    retry_elsewhere_on: frozenset[str] = frozenset()

    def hours(self, zone: str) -> ChannelHours:
        return ChannelHours.parse(self.closed_windows, zone)


def dev_channels(
    bank_url: str = "http://127.0.0.1:8601",
    alipay_url: str = "http://127.0.0.1:8602",
    wechat_url: str = "http://127.0.0.1:8603",
) -> dict[str, ChannelSettings]:
    """The three simulated channels make run starts, with the dev secrets."""
    return {
        "banksim": ChannelSettings(kind=ChannelKind.BANK, url=bank_url),
        "alipaysim": ChannelSettings(kind=ChannelKind.ALIPAY, url=alipay_url),
        "wechatsim": ChannelSettings(kind=ChannelKind.WECHAT, url=wechat_url),
    }
