"""Adds up a trade date's succeeded payments and refunds per merchant and per channel."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from recon.domain.settlement import ChannelTotals, MerchantTotals


@dataclass(frozen=True, slots=True)
class ClearingRecord:
    """One succeeded payment (a purchase) or refund of the date, as clearing counts it."""

    channel: str
    merchant_id: str
    currency: str
    refund: bool
    amount: int
    channel_fee: int
    merchant_fee: int  # kept of a payment; given back with a refund
    # The platform coupon's part (not in amount, which is what the channel moved); of a refund,
    # its share back to marketing cost.
    platform_coupon: int = 0

    @property
    def merchant_amount(self) -> int:
        """The order's amount as the merchant counts it: the channel's and the coupon's."""
        return self.amount + self.platform_coupon


@dataclass
class Tally:
    merchants: dict[tuple[str, str], MerchantTotals] = field(default_factory=dict)
    channels: dict[tuple[str, str], ChannelTotals] = field(default_factory=dict)

    def add(self, record: ClearingRecord) -> None:
        key = (record.merchant_id, record.currency)
        merchant = self.merchants.get(key) or MerchantTotals(*key)
        channel_key = (record.channel, record.currency)
        channel = self.channels.get(channel_key) or ChannelTotals(*channel_key)
        if record.refund:
            merchant = merchant.with_refund(
                record.merchant_amount, record.merchant_fee, record.platform_coupon
            )
            channel = replace(channel, refunds=channel.refunds + record.amount)
        else:
            merchant = merchant.with_payment(
                record.merchant_amount, record.merchant_fee, record.platform_coupon
            )
            channel = replace(
                channel,
                payments=channel.payments + record.amount,
                fees=channel.fees + record.channel_fee,
            )
        self.merchants[key] = merchant
        self.channels[channel_key] = channel

    def adjust(self, merchant_id: str, currency: str, amount: int) -> None:
        """A reconciliation difference of the date resolved to the merchant's payable."""
        key = (merchant_id, currency)
        totals = self.merchants.get(key) or MerchantTotals(merchant_id, currency)
        self.merchants[key] = totals.with_adjustment(amount)
