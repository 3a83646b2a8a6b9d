"""A rolling-window limit on how often one key (e.g. a card) may be used."""

from __future__ import annotations

from collections import deque


class RollingLimiter:
    """At most `limit` uses per key within any `window_seconds`; refused tries do not count."""

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit and window must be positive")
        self._limit = limit
        self._window = window_seconds
        self._uses: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Records a use of key at now and returns True, or returns False if over the limit."""
        uses = self._uses.setdefault(key, deque())
        while uses and uses[0] <= now - self._window:
            uses.popleft()
        if len(uses) >= self._limit:
            return False
        uses.append(now)
        return True
