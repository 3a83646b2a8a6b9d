"""A payment flagged for reconciliation joins its trace when a run resolves it: a span of the
payment's trace (the traceparent the gateway keeps for flagged payments) saying what the run
found, linked to the run's span."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.payment_traces import in_payment_trace
from recon.domain.matching import Finding, OurItem, Outcome


class FlaggedPayments(Protocol):
    async def flagged(self, channel: str) -> list[tuple[date, OurItem]]: ...


async def trace_flagged(
    records: FlaggedPayments, channel: str, run_id: str, findings: Sequence[Finding]
) -> int:
    """A span in the trace of each flagged payment the run resolved; how many."""
    resolved = {
        f.ours.key: f.outcome
        for f in findings
        if f.ours is not None and f.ours.flagged and f.outcome is not Outcome.CARRIED
    }
    if not resolved:
        return 0
    parents = {item.key: item.traceparent for _, item in await records.flagged(channel)}
    for payment_id, outcome in resolved.items():
        attributes: dict[str, str | int] = {
            attrs.PAYMENT_ID: payment_id,
            attrs.CHANNEL: channel,
            attrs.RUN_ID: run_id,
            attrs.RECON_OUTCOME: outcome.value,
        }
        with in_payment_trace("recon.flagged_payment", parents.get(payment_id, ""), attributes):
            pass
    return len(resolved)
