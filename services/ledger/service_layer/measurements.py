"""The ledger's own metrics: transfers asked for, by what became of them (posted, pending,
exists, refused for a reason); rate() of the posted ones is the ledger's postings per second
(see paysuite.runtime.metrics for how they are exported)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from opentelemetry import metrics

from ledger.domain.book import Outcome
from paysuite.runtime import span_attributes as attrs

_transfers = metrics.get_meter(__name__).create_counter(
    "paysuite.ledger.transfers",
    unit="{transfer}",
    description="Transfers asked of the ledger, by result",
)


def count_transfers(outcomes: Sequence[Outcome]) -> None:
    """One batch's transfers, counted by result."""
    for result, count in Counter(o.result for o in outcomes).items():
        _transfers.add(count, {attrs.TRANSFER_RESULT: result.value})
