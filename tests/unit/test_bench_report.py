"""The benchmark's CPU cost per transfer, and what the targets would take at that cost."""

from __future__ import annotations

import pytest

from scripts.bench.cpu import CpuUse
from scripts.bench.load import LoadResult
from scripts.bench.report import cpu_per_transfer


def test_cost_per_transfer_is_the_phase_cpu_over_what_it_posted() -> None:
    result = LoadResult("batch", 4, posted=20_000, elapsed=2.0, client_cpu_s=0.1)
    result.server_cpu = CpuUse(ledger=0.8, postgres=0.5, seconds=2.5)
    cost = cpu_per_transfer(result)
    assert cost is not None
    assert cost.ledger_us == pytest.approx(100.0)  # 0.8 cores x 2.5 s / 20,000
    assert cost.postgres_us == pytest.approx(62.5)
    assert cost.load_us == pytest.approx(5.0)
    assert cost.cores_for(10_000) == pytest.approx(1.675)


def test_no_cost_without_a_cpu_reading_or_a_posted_transfer() -> None:
    unmeasured = LoadResult("single", 16, posted=100, elapsed=1.0)
    assert cpu_per_transfer(unmeasured) is None
    idle = LoadResult("single", 16, posted=0, elapsed=1.0)
    idle.server_cpu = CpuUse(ledger=0.1, postgres=0.1, seconds=1.0)
    assert cpu_per_transfer(idle) is None
