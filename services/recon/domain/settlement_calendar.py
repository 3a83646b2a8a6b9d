"""Business days for settlement cycles: weekends and public holidays off, make-up workdays
(调休, a weekend day worked instead of a holiday) on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_business_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < _SATURDAY and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """The day itself when it is a business day, else the first one after it."""
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    def add_business_days(self, day: date, days: int) -> date:
        """T+N: N business days after day (T+0 on a day off is the next business day)."""
        if days == 0:
            return self.next_business_day(day)
        for _ in range(days):
            day = self.next_business_day(day + _ONE_DAY)
        return day
