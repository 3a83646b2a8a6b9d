"""Fault knobs (latency, declines, timeouts, errors, slow settlement, payouts that fail, hang,
settle late or come back, channels' settlements into the reserve account late, short-paid or
missing) and the dice for them."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Millis = Annotated[int, Field(ge=0, le=3_600_000)]
# How long after a day ends its settlement lands in the reserve account: up to a week.
SettleDelayMs = Annotated[int, Field(ge=0, le=7 * 86_400_000)]
Fen = Annotated[int, Field(ge=0, le=10**12)]


@dataclass(frozen=True)
class Faults:
    """The current fault settings; the admin endpoint swaps in a new value at run time."""

    latency_ms: int = 0
    decline_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_sleep_ms: int = 30_000
    error_rate: float = 0.0
    processing_rate: float = 0.0
    processing_ms: int = 2_000
    verify_error_rate: float = 0.0  # 503 SYSTEM_ERROR from /api/auth/verify4 only
    false_success_rate: float = 0.0  # pay answers SUCCESS though the debit failed
    # Payouts (代付) have knobs of their own, so they can fail while charges go through.
    payout_decline_rate: float = 0.0  # FAIL with ACCOUNT_ABNORMAL
    payout_timeout_rate: float = 0.0  # decided and kept, answered after timeout_sleep_ms
    payout_processing_rate: float = 0.0  # PROCESSING for payout_processing_ms, then decided
    payout_processing_ms: int = 2_000
    payout_return_rate: float = 0.0  # paid, then RETURNED payout_return_after_ms later (退票)
    payout_return_after_ms: int = 5_000
    # Channels' settlements into the reserve account (备付金): late, short-paid or never.
    reserve_settle_delay_ms: int = 9 * 3_600_000  # after the day ends: 09:00 the next day
    reserve_short_rate: float = 0.0  # paid reserve_short_fen less than due
    reserve_short_fen: int = 100
    reserve_missing_rate: float = 0.0  # never arrives

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


class FaultsUpdate(BaseModel):
    """A partial change to the faults, as posted to /_admin/faults; unknown knobs are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: Millis | None = None
    decline_rate: Rate | None = None
    timeout_rate: Rate | None = None
    timeout_sleep_ms: Millis | None = None
    error_rate: Rate | None = None
    processing_rate: Rate | None = None
    processing_ms: Millis | None = None
    verify_error_rate: Rate | None = None
    false_success_rate: Rate | None = None
    payout_decline_rate: Rate | None = None
    payout_timeout_rate: Rate | None = None
    payout_processing_rate: Rate | None = None
    payout_processing_ms: Millis | None = None
    payout_return_rate: Rate | None = None
    payout_return_after_ms: Millis | None = None
    reserve_settle_delay_ms: SettleDelayMs | None = None
    reserve_short_rate: Rate | None = None
    reserve_short_fen: Fen | None = None
    reserve_missing_rate: Rate | None = None

    def apply(self, faults: Faults) -> Faults:
        changes = {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
        return replace(faults, **changes)


class Dice:
    """Seedable randomness for fault decisions and bank ids, so runs can be reproduced."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def roll(self, rate: float) -> bool:
        """True with probability rate; rates of 0 and 1 never draw, keeping seeded runs stable."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        return self._random.random() < rate

    def digits(self, count: int) -> str:
        """count random decimal digits, leading zeros kept (one draw, not one per digit)."""
        return format(self._random.randrange(10**count), f"0{count}d")
