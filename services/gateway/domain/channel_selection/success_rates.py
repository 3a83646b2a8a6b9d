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
        # Successes among each channel's kept outcomes, kept up to date as they come and go
        # (a snapshot is taken for every payment).
        self._succeeded: dict[str, int] = {}

    def record(self, channel: str, succeeded: bool, now: float) -> None:
        outcomes = self._outcomes.setdefault(channel, deque())
        if len(outcomes) >= self._max:
            self._forget_oldest(channel, outcomes)
        outcomes.append((now, succeeded))
        self._succeeded[channel] = self._succeeded.get(channel, 0) + succeeded

    def _forget_oldest(self, channel: str, outcomes: deque[tuple[float, bool]]) -> None:
        _, succeeded = outcomes.popleft()
        self._succeeded[channel] -= succeeded

    def snapshot(self, now: float, window_seconds: float) -> dict[str, tuple[int, int]]:
        """(succeeded, attempts) per channel over the window ending now."""
        counts = {}
        for channel, outcomes in self._outcomes.items():
            while outcomes and outcomes[0][0] <= now - window_seconds:
                self._forget_oldest(channel, outcomes)
            counts[channel] = (self._succeeded.get(channel, 0), len(outcomes))
        return counts
