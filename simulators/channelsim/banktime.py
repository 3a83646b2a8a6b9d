"""The bank's wall clock: Asia/Shanghai (a fixed UTC+8, no DST since 1991) as "YYYY-MM-DD HH:MM:SS"."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TRADE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def from_epoch(seconds: float) -> datetime:
    """The Shanghai wall-clock time of a Unix timestamp, truncated to whole seconds."""
    return datetime.fromtimestamp(int(seconds), SHANGHAI)


def format_trade_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(TRADE_TIME_FORMAT)


def parse_trade_time(text: str) -> datetime:
    """Parses "YYYY-MM-DD HH:MM:SS" as Shanghai time; raises ValueError otherwise."""
    return datetime.strptime(text, TRADE_TIME_FORMAT).replace(tzinfo=SHANGHAI)


def parse_date(text: str) -> date:
    """Parses a strict "YYYY-MM-DD" calendar date; raises ValueError otherwise."""
    if len(text) != 10:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)
