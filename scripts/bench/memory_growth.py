"""How much each process's resident memory grew over a soak after its warm-up, and whether that
is flat: growth under FLAT_MB or under FLAT_SHARE of where it started, whichever is larger.

Why those: a Python process's RSS moves a few MB in steps with no leak (allocator arenas, the
collector's generations, gRPC and asyncpg buffers sized to the busiest moment), and 5% of a
Postgres backends' sum is a few backends' worth of private memory. A leak of one small object
per payment (a dict entry, a span, a finished task: 100 bytes or more) at the default 170
payments/s would add 30 MB or more in 30 minutes, well over either threshold.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .memory import Sample

FLAT_MB = 10.0
FLAT_SHARE = 0.05
SECONDS_PER_10_MINUTES = 600.0


@dataclass(frozen=True)
class Growth:
    """One process: resident MB at the start (after warm-up), the middle and the end."""

    name: str
    start_mb: float | None
    middle_mb: float | None
    end_mb: float | None
    seconds: float
    informational: bool = False

    @property
    def growth_mb(self) -> float | None:
        if self.start_mb is None or self.end_mb is None:
            return None
        return self.end_mb - self.start_mb

    @property
    def per_10_minutes_mb(self) -> float | None:
        growth = self.growth_mb
        if growth is None or self.seconds <= 0:
            return None
        return growth * SECONDS_PER_10_MINUTES / self.seconds

    @property
    def threshold_mb(self) -> float | None:
        return None if self.start_mb is None else max(FLAT_MB, FLAT_SHARE * self.start_mb)

    @property
    def verdict(self) -> str:
        growth, threshold = self.growth_mb, self.threshold_mb
        if growth is None or threshold is None:
            return "no reading"
        if self.informational:
            return "(reference)"
        return "flat" if growth < threshold else "GROWING"


def marks(samples: Sequence[Sample], warmup_seconds: float) -> tuple[Sample, Sample, Sample]:
    """The start (first sample at or after the warm-up), the end (the last) and the middle
    (the sample nearest halfway between them)."""
    after = [s for s in samples if s.at >= warmup_seconds]
    if not after:
        raise ValueError(f"no sample at or after the warm-up ({warmup_seconds:g} s)")
    start, end = after[0], after[-1]
    halfway = (start.at + end.at) / 2
    middle = min(after, key=lambda s: (abs(s.at - halfway), s.at))
    return start, middle, end


def growth(
    samples: Sequence[Sample], warmup_seconds: float, informational: Collection[str] = ()
) -> list[Growth]:
    """Each process seen in any sample, in the order first seen."""
    start, middle, end = marks(samples, warmup_seconds)
    names = list(dict.fromkeys(name for s in samples for name in s.mb))
    return [
        Growth(
            name,
            start.mb.get(name),
            middle.mb.get(name),
            end.mb.get(name),
            end.at - start.at,
            name in informational,
        )
        for name in names
    ]


def _mb(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def table(growths: Sequence[Growth], start_at: float, middle_at: float, end_at: float) -> list[str]:
    """A markdown table, one row per process."""
    lines = [
        f"| process | RSS MB at {start_at / 60:.1f} min | at {middle_at / 60:.1f} min | "
        f"at {end_at / 60:.1f} min | growth MB | MB per 10 min | flat below MB | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in growths:
        lines.append(
            f"| {g.name} | {_mb(g.start_mb)} | {_mb(g.middle_mb)} | {_mb(g.end_mb)} | "
            f"{_mb(g.growth_mb, True)} | {_mb(g.per_10_minutes_mb, True)} | "
            f"{_mb(g.threshold_mb)} | {g.verdict} |"
        )
    return lines


def growing(growths: Sequence[Growth]) -> list[str]:
    """Names of the processes whose verdict is not flat (no reading counts as not flat)."""
    return [g.name for g in growths if not g.informational and g.verdict != "flat"]
