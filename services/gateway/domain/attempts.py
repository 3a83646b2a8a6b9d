"""A channel attempt: one payment order sent (or meant to be sent) to one channel, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChannelAttempt:
    """outcome is the channel's latest word on the charge (a ChannelOutcome value), "" before;
    volume_reserved: the amount counts against the channel's daily limit until released."""

    payment_id: str
    attempt_no: int
    channel: str
    rule: str
    reason: str
    created_at: datetime
    updated_at: datetime
    outcome: str = ""
    error_code: str = ""
    volume_reserved: bool = False
