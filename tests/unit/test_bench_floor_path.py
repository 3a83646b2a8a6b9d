"""The payment benchmark's floor path: its highest sustained rate, its cost at a card step's
rate (the ledger posting's share added), and both in the summary and the last line."""

from __future__ import annotations

import pytest

from scripts.bench.payments.arrivals import StepResult
from scripts.bench.payments.floors import OpCost
from scripts.bench.payments.report import Figures, Floor, last_line, summary


def _op(name: str, total_us: float) -> OpCost:
    return OpCost(name, ops=1000, seconds=1.0, cpu_us={"client": total_us})


def _floor() -> Floor:
    return Floor(
        call_in=_op("in", 800.0),
        between_services=_op("between", 900.0),
        channel_http=_op("http", 300.0),
        transaction=_op("db", 350.0),
        ledger_posting=_op("ledger", 100.0),
    )


def _step(kind: str, rate: float, p99_ms: float, cpu_s: dict[str, float]) -> StepResult:
    done = int(rate)
    return StepResult(
        kind=kind,
        rate=rate,
        window_seconds=1.0,
        completed_in_window=done,
        measured=done,
        latencies_ms=[p99_ms] * done,
        cpu_seconds=cpu_s,
    )


def _figures() -> Figures:
    return Figures(
        server="test",
        pgbench_tps=1000.0,
        floor=_floor(),
        steps=[
            _step("card", 200, 50.0, {"gateway": 0.6, "identity": 0.2, "load": 0.2}),
            _step("card", 300, 400.0, {"gateway": 0.9, "identity": 0.3, "load": 0.3}),
        ],
        floor_steps=[
            _step("floor", 200, 20.0, {"gateway": 0.4, "identity": 0.2, "load": 0.1}),
            _step("floor", 300, 60.0, {"gateway": 0.6, "identity": 0.3, "load": 0.15}),
            _step("floor", 400, 300.0, {"gateway": 0.8, "identity": 0.4, "load": 0.2}),
        ],
    )


def test_the_floor_paths_best_is_its_highest_step_under_the_p99_limit() -> None:
    best = _figures().best_floor()
    assert best is not None
    assert best.rate == 300


def test_the_floor_paths_cost_at_a_rate_adds_the_ledger_postings_share() -> None:
    figures = _figures()
    # 0.7 s of CPU over 200 payments is 3.5 ms; the batched posting adds 0.1 ms.
    assert figures.floor_path_ms(200) == pytest.approx(3.6)
    assert figures.floor_path_ms(500) is None


def test_the_summary_compares_the_card_path_with_the_floor_path_at_its_rate() -> None:
    lines = summary(_figures())
    assert "floor path: highest sustained 300/s" in lines
    verdict = next(line for line in lines if line.startswith("card: "))
    # The card step sustained at 200/s cost 5.0 ms; the floor path there 3.6 ms.
    assert verdict.endswith("1.39x the floor path there (3.60 ms)"), verdict


def test_the_last_line_gives_the_floor_paths_rate_and_cost() -> None:
    line = last_line(_figures())
    assert "e2e_tps=200 " in line
    assert "floor_tps=300 floor_path_ms_per_payment=3.60 " in line


def test_without_a_floor_path_the_last_line_says_so() -> None:
    figures = _figures()
    figures.floor_steps = []
    assert "floor_tps=0 floor_path_ms_per_payment=- " in last_line(figures)
