"""The bank's wall clock: Asia/Shanghai, a fixed UTC+8 (no DST since 1991)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TRADE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")


def from_epoch(seconds: float) -> datetime:
    """The Shanghai wall-clock time of a Unix timestamp, truncated to whole seconds."""
    return datetime.fromtimestamp(int(seconds), SHANGHAI)


def format_trade_time(moment: datetime) -> str:
    """Shanghai time as TRADE_TIME_FORMAT, cut from isoformat: strftime costs 3x as much, and
    every payment formats its time twice (journal and answer)."""
    local = moment if moment.tzinfo is SHANGHAI else moment.astimezone(SHANGHAI)
    return local.isoformat(" ", "seconds")[:19]


def compact_date(moment: datetime) -> str:
    """The moment's own date as "YYYYMMDD", as bank ids carry it."""
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"


def parse_trade_time(text: str) -> datetime:
    """Parses "YYYY-MM-DD HH:MM:SS" as Shanghai time; raises ValueError otherwise."""
    if not _TIME_RE.match(text):
        raise ValueError(f"not a YYYY-MM-DD HH:MM:SS time: {text!r}")
    return datetime.strptime(text, TRADE_TIME_FORMAT).replace(tzinfo=SHANGHAI)


def parse_date(text: str) -> date:
    """Parses a strict "YYYY-MM-DD" calendar date; raises ValueError otherwise."""
    if not _DATE_RE.match(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)
