"""The gateway's payments flagged for reconciliation that a run resolved, cleared at the
gateway once the run has stored what it found, so that later runs do not take them up again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from recon.domain.matching import Finding, Outcome

_log = logging.getLogger(__name__)

# Payment ids per call to the gateway (its limit).
CLEAR_BATCH = 1000


class FlagClearing(Protocol):
    async def clear_flags(self, channel: str, payment_ids: list[str], run_id: str) -> int: ...


def resolved_flagged(findings: Sequence[Finding]) -> list[str]:
    """The flagged payments a run resolved: matched to the bill, or found to differ (a
    difference the run stores); not those carried to the next date."""
    return list(
        dict.fromkeys(
            f.ours.key
            for f in findings
            if f.ours is not None and f.ours.flagged and f.outcome is not Outcome.CARRIED
        )
    )


async def clear_resolved(
    records: FlagClearing, channel: str, run_id: str, findings: Sequence[Finding]
) -> int:
    """Clears the flags of the flagged payments the run resolved, after its differences are
    stored; how many the gateway cleared. A failure is logged, not raised: the run's results
    stand, and the next run resolves the payments again (finding the same differences)."""
    payment_ids = resolved_flagged(findings)
    cleared = 0
    try:
        for start in range(0, len(payment_ids), CLEAR_BATCH):
            batch = payment_ids[start : start + CLEAR_BATCH]
            cleared += await records.clear_flags(channel, batch, run_id)
    except Exception:
        _log.exception(
            "could not clear the flags of resolved payments at the gateway",
            extra={"run_id": run_id, "channel": channel, "payments": len(payment_ids)},
        )
    return cleared
