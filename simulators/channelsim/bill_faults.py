"""A channel's faults of its daily bill itself, per date: late, lines left out, lines added.

The bank and the wallets share them: `late_seconds` keeps a date's bill back until then, `omit`
names our order or refund numbers whose lines the bill leaves out, `extra_lines` adds lines of
payments the channel never made; a correction drops the line faults and is the file sent again
(its version the next).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from channelsim.banktime import SHANGHAI

MAX_EXTRA_LINES = 100
OrderNo = Annotated[StrictStr, Field(max_length=64)]


@dataclass(frozen=True)
class BillFaults:
    """A date's bill faults; version counts the files sent (a correction is the next)."""

    available_at: float = 0.0
    omit: frozenset[str] = field(default_factory=frozenset)
    extra_lines: int = 0
    version: int = 1

    def view(self, now: float) -> dict[str, Any]:
        return {
            "available": now >= self.available_at,
            "available_at": self.available_at,
            "omit": sorted(self.omit),
            "extra_lines": self.extra_lines,
            "version": self.version,
        }


class BillFaultsUpdate(BaseModel):
    """POST /_admin/bills/{date}/faults: what to change; unknown fields are refused.

    late_seconds: the bill is not available until this long from now.
    omit: our order or refund numbers whose lines the bill leaves out.
    extra_lines: lines of made-up payments the channel never made.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    late_seconds: Annotated[float, Field(ge=0, le=7 * 86_400)] | None = None
    omit: Annotated[list[OrderNo], Field(max_length=1000)] | None = None
    extra_lines: Annotated[int, Field(ge=0, le=MAX_EXTRA_LINES)] | None = None

    def apply(self, faults: BillFaults, now: float) -> BillFaults:
        if self.late_seconds is not None:
            faults = replace(faults, available_at=now + self.late_seconds)
        if self.omit is not None:
            faults = replace(faults, omit=frozenset(self.omit))
        if self.extra_lines is not None:
            faults = replace(faults, extra_lines=self.extra_lines)
        return faults


class BillFaultBook:
    """Each date's bill faults, as the admin endpoint set them."""

    def __init__(self) -> None:
        self._faults: dict[date, BillFaults] = {}

    def faults(self, day: date) -> BillFaults:
        return self._faults.get(day, BillFaults())

    def change(self, day: date, update: BillFaultsUpdate, now: float) -> BillFaults:
        self._faults[day] = update.apply(self.faults(day), now)
        return self._faults[day]

    def correct(self, day: date) -> BillFaults:
        """The date's bill sent again, corrected: every line as the channel made it."""
        current = self.faults(day)
        self._faults[day] = replace(
            current, omit=frozenset(), extra_lines=0, version=current.version + 1
        )
        return self._faults[day]

    def ready(self, day: date, now: float) -> bool:
        return now >= self.faults(day).available_at


@dataclass(frozen=True)
class MadeUpLine:
    """A payment a bill lists that the channel never made: when, how much, and digits to
    draw its ids from."""

    at: datetime
    amount: int
    digits: Callable[[int], str]


def made_up_lines(mch_id: str, day: date, count: int) -> list[MadeUpLine]:
    """The extra lines of a date's bill: the same ones for a merchant and date every time."""
    made: list[MadeUpLine] = []
    for index in range(count):
        dice = random.Random(f"{mch_id}:{day.isoformat()}:{index}")

        def digits(n: int, dice: random.Random = dice) -> str:
            return "".join(dice.choice("0123456789") for _ in range(n))

        at = datetime.combine(day, time(12, 0, index % 60), SHANGHAI)
        made.append(MadeUpLine(at, 100 + dice.randrange(9_900), digits))
    return made
