"""Each channel's recent charge outcomes, for putting a channel that fails after the others."""

from __future__ import annotations

from collections import deque


class SuccessRates:
    """Outcomes within a sliding time window per channel, kept in this process.

    An idle channel's outcomes age out, so a channel routed away from gets traffic again once
    its bad window has passed.
    """

    def __init__(self, max_samples: int = 1_000) -> None:
        self._max = max_samples
        self._outcomes: dict[str, deque[tuple[float, bool]]] = {}

    def record(self, channel: str, succeeded: bool, now: float) -> None:
        outcomes = self._outcomes.setdefault(channel, deque(maxlen=self._max))
        outcomes.append((now, succeeded))

    def snapshot(self, now: float, window_seconds: float) -> dict[str, tuple[int, int]]:
        """(succeeded, attempts) per channel over the window ending now."""
        counts = {}
        for channel, outcomes in self._outcomes.items():
            while outcomes and outcomes[0][0] <= now - window_seconds:
                outcomes.popleft()
            counts[channel] = (sum(1 for _, ok in outcomes if ok), len(outcomes))
        return counts
