"""Recon's own metrics: how long reconciliation runs take, by channel and how they ended (see
paysuite.runtime.metrics for how they are exported)."""

from __future__ import annotations

from opentelemetry import metrics

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
