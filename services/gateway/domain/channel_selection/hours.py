"""When a channel takes calls: daily closed windows (outside opening hours, its day-cut)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """From start (inclusive) to end (exclusive) every day; wraps midnight when end <= start."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> DailyWindow:
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(f"a closed window is HH:MM-HH:MM, not {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
            raise ValueError(f"not a window of the day: {text!r}")
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def ends_after(self, local: datetime) -> datetime:
        """When this window, open at local time, closes."""
        day = local.date() if self.end > local.time() else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=local.tzinfo)


@dataclass(frozen=True, slots=True)
class ChannelHours:
    """A channel's closed windows in its own time zone; no windows: always open."""

    zone: ZoneInfo
    closed: tuple[DailyWindow, ...] = ()

    @classmethod
    def parse(cls, spec: str, zone: str = "Asia/Shanghai") -> ChannelHours:
        """From "22:00-08:00,23:55-00:05" (comma-separated windows; empty: always open)."""
        windows = tuple(DailyWindow.parse(part) for part in spec.split(",") if part.strip())
        return cls(ZoneInfo(zone), windows)

    def within(self, now: datetime) -> bool:
        """True when now falls in one of the windows."""
        moment = now.astimezone(self.zone).time()
        return any(w.contains(moment) for w in self.closed)

    def reopens_at(self, now: datetime) -> datetime | None:
        """None while open; else the first moment the channel takes calls again."""
        local = now.astimezone(self.zone)
        reopening = None
        # Windows can touch or overlap: step from one's end to the next until none holds.
        for _ in range(len(self.closed) + 1):
            holding = [w for w in self.closed if w.contains(local.time())]
            if not holding:
                return reopening
            local = max(w.ends_after(local) for w in holding)
            reopening = local
        raise ValueError("the channel's closed windows cover the whole day")
