"""What the payment use cases need, wired once by the composition root."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gateway.adapters.store.payment_batches import AnswerWrite, NewPayment
from gateway.adapters.store.payments import Applied, Recorded
from gateway.domain.answers import Change
from gateway.domain.channel_selection import ChannelRules, ChannelTerms, SuccessRates
from gateway.domain.model import Payment
from gateway.domain.ports import ChannelAdapter, IdentityPort, LedgerPort, PayoutChannel
from gateway.domain.rate_limits import MerchantRateLimits
from gateway.service_layer.unit_of_work import SessionFactory, UnitOfWorkFactory


class Wakeable(Protocol):
    """A background worker told that there is work for it now rather than at its next poll."""

    def wake(self) -> None: ...


class Relay(Wakeable, Protocol):
    """The outbox relay: in the background, or at once for messages an answer depends on."""

    async def deliver_now(self, keys: Sequence[str]) -> None: ...


class PaymentWrites(Protocol):
    """The payment path's two writes, each one statement that may carry other payments' too."""

    async def record(self, item: NewPayment) -> Recorded: ...

    async def apply(self, item: AnswerWrite) -> Applied: ...

    def latest(self, payment_id: str) -> Payment | None:
        """The payment as this process last wrote it, if it knows (possibly stale)."""
        ...


class _Asleep:
    def wake(self) -> None:
        return None

    async def deliver_now(self, keys: Sequence[str]) -> None:
        return None


@dataclass
class PaymentDeps:
    uow: UnitOfWorkFactory
    session: SessionFactory
    writes: PaymentWrites
    identity: IdentityPort
    # Adapters and terms by channel name, as stored on payments.
    channels: Mapping[str, ChannelAdapter]
    terms: Mapping[str, ChannelTerms]
    clock: Callable[[], datetime]
    ledger: LedgerPort
    # The outbox relay and the event sequencer, woken when a change gives them work.
    relay: Relay = field(default_factory=_Asleep)
    sequencer: Wakeable = field(default_factory=_Asleep)
    # The channel rules in force (re-read from their file as it changes).
    channel_rules: Callable[[], ChannelRules] = ChannelRules
    success_rates: SuccessRates = field(default_factory=SuccessRates)
    monotonic: Callable[[], float] = time.monotonic
    # The bank channel new payouts (settlements, withdrawals) go through.
    payout_channel: str = ""
    # Each merchant's payment creation rate, in this process.
    payment_rates: MerchantRateLimits = field(default_factory=MerchantRateLimits)

    def channel(self, name: str) -> ChannelAdapter | None:
        return self.channels.get(name)

    def payouts_on(self, name: str) -> PayoutChannel | None:
        """The channel's payout side, if it has one."""
        channel = self.channels.get(name)
        return channel if isinstance(channel, PayoutChannel) else None

    def reopens_at(self, channel_name: str) -> datetime | None:
        """None while the channel takes calls; else when it will again."""
        terms = self.terms.get(channel_name)
        return None if terms is None else terms.hours.reopens_at(self.clock())

    def limits_daily_volume(self, channel_name: str) -> bool:
        terms = self.terms.get(channel_name)
        return terms is not None and terms.daily_limit > 0

    def written(self, change: Change) -> None:
        """A change committed: its messages and its event have somewhere to go now."""
        if change.messages:
            self.relay.wake()
        if change.event:
            self.sequencer.wake()
