"""What the payment use cases need, wired once by the composition root."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gateway.domain.channel_selection import ChannelTerms, Routing
from gateway.domain.ports import ChannelAdapter, IdentityPort, LedgerPort
from gateway.domain.success_rates import SuccessRates
from gateway.service_layer.outbox import OutboxRelay
from gateway.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass
class PaymentDeps:
    uow: UnitOfWorkFactory
    identity: IdentityPort
    # Adapters and terms by channel name, as stored on payments.
    channels: Mapping[str, ChannelAdapter]
    terms: Mapping[str, ChannelTerms]
    relay: OutboxRelay
    clock: Callable[[], datetime]
    ledger: LedgerPort
    # The routing rules in force (re-read from their file as it changes).
    routing: Callable[[], Routing] = Routing
    success_rates: SuccessRates = field(default_factory=SuccessRates)
    monotonic: Callable[[], float] = time.monotonic

    def channel(self, name: str) -> ChannelAdapter | None:
        return self.channels.get(name)

    def reopens_at(self, channel_name: str) -> datetime | None:
        """None while the channel takes calls; else when it will again."""
        terms = self.terms.get(channel_name)
        return None if terms is None else terms.hours.reopens_at(self.clock())
