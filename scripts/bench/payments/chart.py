"""Latency and completed rate against offered load, card, wallet and the floor path, drawn as
one PNG."""

from __future__ import annotations

from pathlib import Path

from ..stats import percentile
from .arrivals import StepResult
from .report import P99_LIMIT_MS


def draw(steps: list[StepResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, colour, name in (
        ("card", "tab:blue", "card"),
        ("wallet", "tab:orange", "wallet"),
        ("floor", "tab:grey", "floor path"),
    ):
        own = sorted((s for s in steps if s.kind == kind), key=lambda s: s.rate)
        if not own:
            continue
        rates = [s.rate for s in own]
        for pct, style in ((50, ":"), (99, "-"), (99.9, "--")):
            values = [percentile(s.latencies_ms, pct) or float("nan") for s in own]
            latency.plot(rates, values, style, marker="o", color=colour, label=f"{name} p{pct:g}")
        throughput.plot(
            rates, [s.completed_rate for s in own], marker="o", color=colour, label=name
        )
    latency.axhline(P99_LIMIT_MS, color="grey", linewidth=0.8)
    latency.set_yscale("log")
    latency.set_xlabel("offered payments/s")
    latency.set_ylabel("latency to the definite answer, ms")
    latency.legend(fontsize=7)
    top = max((s.rate for s in steps), default=1)
    throughput.plot([0, top], [0, top], color="grey", linewidth=0.8, label="offered")
    throughput.set_xlabel("offered payments/s")
    throughput.set_ylabel("completed payments/s")
    throughput.legend(fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
