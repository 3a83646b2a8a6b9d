"""Channel closed windows: opening hours and day-cut, across midnight and one into another."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.domain.channel_selection import ChannelHours, DailyWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int, day: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def test_no_windows_is_always_open() -> None:
    assert ChannelHours.parse("").reopens_at(at(3, 0)) is None


def test_day_cut_across_midnight() -> None:
    hours = ChannelHours.parse("23:55-00:05")
    assert hours.reopens_at(at(23, 54)) is None
    assert hours.reopens_at(at(23, 58)) == at(0, 5, day=11)
    assert hours.reopens_at(at(0, 2)) == at(0, 5)
    assert hours.reopens_at(at(0, 5)) is None


def test_touching_windows_reopen_after_the_last() -> None:
    hours = ChannelHours.parse("22:00-23:55, 23:55-00:05")
    assert hours.reopens_at(at(22, 30)) == at(0, 5, day=11)


def test_the_answer_is_in_the_channels_zone_whatever_the_callers() -> None:
    hours = ChannelHours.parse("12:00-13:00")
    utc_noon_shanghai = datetime(2026, 11, 10, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
    assert hours.reopens_at(utc_noon_shanghai) == at(13, 0)


def test_a_day_with_no_open_minute_is_refused() -> None:
    hours = ChannelHours.parse("00:00-12:00,12:00-00:00")
    with pytest.raises(ValueError, match="whole day"):
        hours.reopens_at(at(9, 0))


@pytest.mark.parametrize("bad", ["24:00-01:00", "10:00", "10:00-10:00", "9:00-10:00", "a-b"])
def test_bad_windows_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        DailyWindow.parse(bad)
