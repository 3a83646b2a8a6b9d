"""When to ask a channel again about a payment it has not answered definitely."""

from __future__ import annotations

from datetime import timedelta

# Cashier practice: every 5 s for the first 30 s, then backing off; then reconciliation.
_SCHEDULE = [5, 5, 5, 5, 5, 5, 30, 60, 120, 300, 600, 1800]


def next_query_delay(attempts: int) -> timedelta | None:
    """The wait before query number `attempts + 1`, or None: hand it to reconciliation."""
    if attempts >= len(_SCHEDULE):
        return None
    return timedelta(seconds=_SCHEDULE[attempts])
