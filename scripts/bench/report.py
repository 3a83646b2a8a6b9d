"""Formats the human summary and the machine-readable last line of a benchmark run."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .cpu import CpuUse
from .floor import FloorResult
from .load import LoadResult
from .pgbench import PgbenchConfig

# The ledger issue's targets: batch transfers/s, and single transfers as a share of pgbench.
BATCH_TARGET_TPS = 50_000
SINGLE_TARGET_SHARE = 0.5


@dataclass(frozen=True)
class CpuPerTransfer:
    """CPU microseconds each posted transfer (or call) cost the ledger, Postgres and the load
    process."""

    ledger_us: float
    postgres_us: float
    load_us: float

    @property
    def total_us(self) -> float:
        return self.ledger_us + self.postgres_us + self.load_us

    def cores_for(self, tps: float) -> float:
        """Cores that many transfers a second would keep busy at this cost."""
        return tps * self.total_us / 1e6


def cpu_per_item(cpu: CpuUse | None, items: int, client_cpu_s: float) -> CpuPerTransfer | None:
    """CPU over a timed stretch divided by the items it completed; None unmeasured."""
    if cpu is None or items == 0:
        return None
    per = 1e6 / items
    return CpuPerTransfer(
        cpu.ledger * cpu.seconds * per, cpu.postgres * cpu.seconds * per, client_cpu_s * per
    )


def cpu_per_transfer(result: LoadResult) -> CpuPerTransfer | None:
    """The phase's CPU over its timed stretch divided by what it posted; None unmeasured."""
    return cpu_per_item(result.server_cpu, result.posted, result.client_cpu_s)


@dataclass(frozen=True)
class Figures:
    """Everything one run measured."""

    server: str
    pgbench_path: str
    pgbench: PgbenchConfig
    pgbench_tps: float
    batch: LoadResult
    batch_size: int
    single: LoadResult
    floor: FloorResult
    accounts: int
    hot_share: float
    problem: str | None

    @property
    def invariants_ok(self) -> bool:
        return self.problem is None

    @property
    def errors(self) -> list[str]:
        floor = [f"{self.floor.errors} gRPC floor clients failed"] if self.floor.errors else []
        return self.batch.errors + self.single.errors + floor


def _ratio(value: float, yardstick: float) -> str:
    return f"{value / yardstick:.2f}x pgbench" if yardstick > 0 else "n/a"


def _floor_share(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x gRPC floor" if floor > 0 else "gRPC floor n/a"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole > 0 else "n/a"


def _cost_line(result: LoadResult, target_tps: float, target: str) -> list[str]:
    cost = cpu_per_transfer(result)
    if cost is None:
        return []
    machine = os.cpu_count()
    cores = cost.cores_for(target_tps)
    return [
        f"      CPU per transfer: ledger {cost.ledger_us:.0f} us, "
        f"Postgres {cost.postgres_us:.0f} us, load {cost.load_us:.0f} us; "
        f"{target_tps:,.0f}/s ({target}) would keep {cores:.1f} cores busy "
        f"at that cost (this machine: {machine})"
    ]


def _floor_cost(floor: FloorResult) -> list[str]:
    cost = cpu_per_item(floor.server_cpu, floor.calls, floor.client_cpu_s)
    if cost is None or floor.server_cpu is None:
        return []
    return [
        f"      server CPU: ledger {floor.server_cpu.ledger:.2f} cores; CPU per call: ledger "
        f"{cost.ledger_us:.0f} us, load {cost.load_us:.0f} us"
    ]


def _phase_details(result: LoadResult, target_tps: float, target: str) -> list[str]:
    lines = [
        f"      {result.calls} calls, {result.warmup_posted} posted in warm-up (not counted), "
        f"{result.prebuilt_transfers} transfers pre-built, "
        f"{result.built_while_timed} built while timed",
        f"      load process CPU {result.client_cpu_s:.1f} s over {result.elapsed:.1f} s "
        f"({_share(result.client_cpu_s, result.elapsed)} of one core)",
    ]
    if (cpu := result.server_cpu) is not None:
        lines.append(
            f"      server CPU over the timed stretch: ledger {cpu.ledger:.2f} cores, "
            f"Postgres {cpu.postgres:.2f} cores"
        )
    lines.extend(_cost_line(result, target_tps, target))
    if result.not_posted:
        outcomes = ", ".join(f"{name}={n}" for name, n in sorted(result.not_posted.items()))
        lines.append(f"      not POSTED: {outcomes}")
    if result.mismatched_ids:
        lines.append(f"      results not matching the request's ids: {result.mismatched_ids}")
    for error in result.errors[:3]:
        lines.append(f"      RPC error: {error}")
    return lines


def summary(fig: Figures) -> list[str]:
    """The human-readable report, one line per item."""
    pg = fig.pgbench
    batch, single = fig.batch, fig.single
    lines = [
        "Paysuite ledger benchmark (ratios are against pgbench measured in this run)",
        f"  server          : {fig.server}",
        f"  accounts        : 1 hot + {fig.accounts} cold (CNY); "
        f"{fig.hot_share:.0%} of transfers debit the hot account",
        f"  pgbench TPC-B   : {fig.pgbench_tps:.0f} tps  "
        f"(-s {pg.scale} -c {pg.clients} -j {pg.threads} -T {pg.seconds} -M prepared; "
        f"{fig.pgbench_path})",
        f"  ledger batch    : {batch.tps:.0f} transfers/s  ({_ratio(batch.tps, fig.pgbench_tps)}); "
        f"{batch.posted} POSTED in {batch.elapsed:.1f} s, "
        f"{batch.clients} clients x {fig.batch_size}/batch",
        *_phase_details(batch, BATCH_TARGET_TPS, "the target"),
        f"  ledger single   : {single.tps:.0f} tps  ({_ratio(single.tps, fig.pgbench_tps)}, "
        f"{_floor_share(single.tps, fig.floor.rps)}); "
        f"p50 {_ms(single.p50_ms)}, p99 {_ms(single.p99_ms)}; "
        f"{single.posted} POSTED in {single.elapsed:.1f} s, {single.clients} clients",
        *_phase_details(
            single,
            SINGLE_TARGET_SHARE * fig.pgbench_tps,
            f"the target, {SINGLE_TARGET_SHARE:g}x pgbench",
        ),
        f"  gRPC floor      : {fig.floor.rps:.0f} calls/s  (health Check, no database, "
        f"{single.clients} clients: the most unary calls/s server and client carry here)",
        f"      load process CPU {fig.floor.client_cpu_s:.1f} s over {fig.floor.elapsed:.1f} s "
        f"({_share(fig.floor.client_cpu_s, fig.floor.elapsed)} of one core)",
        *_floor_cost(fig.floor),
        "  invariants      : " + ("ok" if fig.invariants_ok else f"FAILED: {fig.problem}"),
    ]
    if fig.errors:
        lines.append("  RESULT INCOMPLETE: RPC errors above; exit code 1")
    return lines


def last_line(fig: Figures) -> str:
    """`ledger_batch_tps=<n> single_tps=<n> single_p99_ms=<n> pgbench_tps=<n> invariants=..`."""
    p99 = fig.single.p99_ms if fig.single.p99_ms is not None else 0.0
    return (
        f"ledger_batch_tps={round(fig.batch.tps)} single_tps={round(fig.single.tps)} "
        f"single_p99_ms={p99:.1f} pgbench_tps={round(fig.pgbench_tps)} "
        f"invariants={'ok' if fig.invariants_ok else 'FAILED'}"
    )
