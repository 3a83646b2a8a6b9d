"""What the payment use cases need, wired once by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gateway.domain.channel_hours import ChannelHours
from gateway.domain.model import PaymentMethod
from gateway.domain.ports import ChannelAdapter, IdentityPort
from gateway.service_layer.outbox import OutboxRelay
from gateway.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass
class PaymentDeps:
    uow: UnitOfWorkFactory
    identity: IdentityPort
    channels: Mapping[PaymentMethod, ChannelAdapter]
    relay: OutboxRelay
    clock: Callable[[], datetime]
    hours: Mapping[str, ChannelHours] = field(default_factory=dict)
    max_amounts: Mapping[str, int] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelAdapter | None:
        """The adapter of a channel by its name, as stored on payments."""
        return next((c for c in self.channels.values() if c.name == name), None)

    def reopens_at(self, channel_name: str) -> datetime | None:
        """None while the channel takes calls; else when it will again."""
        hours = self.hours.get(channel_name)
        return None if hours is None else hours.reopens_at(self.clock())

    def over_channel_limit(self, channel_name: str, minor_units: int) -> bool:
        """True when one charge of this size is more than the channel takes."""
        limit = self.max_amounts.get(channel_name, 0)
        return 0 < limit < minor_units
