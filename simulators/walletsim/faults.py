"""Fault knobs of a wallet: buyer behaviour, errors, timeouts and notification delivery."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from channelsim.faults import Millis, Rate, SettleDelayMs
from walletsim.settings import WalletSimSettings

Attempts = Annotated[int, Field(ge=0, le=100)]
Copies = Annotated[int, Field(ge=1, le=100)]


@dataclass(frozen=True)
class Faults:
    """The current fault settings; the admin endpoint swaps in a new value at run time.

    accepted_rate: pay answers "accepted, the buyer is paying" and decides after decide_ms.
    false_failure_rate: pay answers that the buyer could not pay, but the wallet took the
    money (its query, notification and bill say paid).
    notify_max_attempts 0 means as many as the real wallet tries.
    notify_copies: every notification sent this many times in all, the copies at once.
    bill_download_corrupt_rate: a bill file downloaded from its URL comes cut short (its bytes
    not those its hash names).
    """

    latency_ms: int = 0
    accepted_rate: float = 0.0
    decide_ms: int = 2_000
    decline_rate: float = 0.0
    false_failure_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_sleep_ms: int = 30_000
    error_rate: float = 0.0
    notify_delay_ms: int = 0
    notify_duplicate_rate: float = 0.0
    notify_drop_rate: float = 0.0
    notify_backoff_ms: int = 1_000
    notify_max_attempts: int = 0
    notify_timeout_ms: int = 5_000
    notify_copies: int = 1
    settle_delay_ms: int = 9 * 3_600_000  # a day's settlement is paid this long after it ends
    bill_download_corrupt_rate: float = 0.0

    @classmethod
    def from_settings(cls, settings: WalletSimSettings) -> Faults:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


class FaultsUpdate(BaseModel):
    """A partial change to the faults, as posted to /_admin/faults; unknown knobs are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: Millis | None = None
    accepted_rate: Rate | None = None
    decide_ms: Millis | None = None
    decline_rate: Rate | None = None
    false_failure_rate: Rate | None = None
    timeout_rate: Rate | None = None
    timeout_sleep_ms: Millis | None = None
    error_rate: Rate | None = None
    notify_delay_ms: Millis | None = None
    notify_duplicate_rate: Rate | None = None
    notify_drop_rate: Rate | None = None
    notify_backoff_ms: Millis | None = None
    notify_max_attempts: Attempts | None = None
    notify_timeout_ms: Millis | None = None
    notify_copies: Copies | None = None
    settle_delay_ms: SettleDelayMs | None = None
    bill_download_corrupt_rate: Rate | None = None

    def apply(self, faults: Faults) -> Faults:
        changes = {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
        return replace(faults, **changes)
