"""Trace sampling follows the standard variables: every span in dev, a ratio in production."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.sampling import ParentBased

from paysuite.runtime.telemetry import tracer_provider


def test_every_span_is_kept_unless_a_sampler_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    sampler = tracer_provider("gateway").sampler
    assert isinstance(sampler, ParentBased)
    assert "AlwaysOnSampler" in sampler.get_description()


def test_a_parent_based_ratio_keeps_whole_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.01")
    sampler = tracer_provider("gateway").sampler
    assert isinstance(sampler, ParentBased)  # a sampled caller's trace is kept in every service
    assert "TraceIdRatioBased{0.01}" in sampler.get_description()
