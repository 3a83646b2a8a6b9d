"""Recon's own metrics: how long reconciliation runs take, by channel and how they ended (see
paysuite.runtime.metrics for how they are exported)."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from paysuite.runtime import span_attributes as attrs

_meter = metrics.get_meter(__name__)
_run_duration = _meter.create_histogram(
    "paysuite.recon.run.duration",
    unit="s",
    description="Duration of reconciliation runs, by channel and final state",
    explicit_bucket_boundaries_advisory=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)


def record_run(channel: str, state: str, seconds: float) -> None:
    """One finished run (completed or failed) of a channel's date."""
    _run_duration.record(seconds, {attrs.CHANNEL: channel, attrs.RUN_STATE: state})


class OpenItemsGauge:
    """Open reconciliation items (discrepancies not yet resolved) by channel and age bucket, as
    last sampled (each replica reports the shared table's; take the max). A channel once seen
    reports every bucket, so resolved items fall to 0 instead of vanishing."""

    def __init__(self, meter: Meter | None = None) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        (meter or _meter).create_observable_gauge(
            "paysuite.recon.open_items",
            callbacks=[self._observe],
            unit="{item}",
            description="Open reconciliation items by channel and age since found",
        )

    def set(self, counts: dict[tuple[str, str], int]) -> None:
        self._counts = dict.fromkeys(self._counts, 0) | counts

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        for (channel, age), count in sorted(self._counts.items()):
            yield Observation(count, {attrs.CHANNEL: channel, attrs.ITEM_AGE: age})
