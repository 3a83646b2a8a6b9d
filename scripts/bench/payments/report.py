"""The payment benchmark's figures: per-step lines, the floor (its parts and as a path), and
the machine-readable line."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..stats import percentile
from .arrivals import StepResult
from .floors import OpCost

P99_LIMIT_MS = 100.0
# A step whose completions fall this far behind its offered rate has saturated the suite.
SUSTAINED_SHARE = 0.95
PROCESS_ORDER = (
    "gateway",
    "identity",
    "ledger",
    "recon",
    "postgres",
    "banksim",
    "alipaysim",
    "wechatsim",
    "channel",  # the floor path's HTTP channel
    "load",
)


def sustained(step: StepResult) -> bool:
    p99 = percentile(step.latencies_ms, 99)
    return (
        step.error_count == 0
        and p99 is not None
        and p99 < P99_LIMIT_MS
        and step.completed_rate >= SUSTAINED_SHARE * step.rate
    )


def cpu_ms_per_payment(step: StepResult) -> dict[str, float]:
    """Milliseconds of CPU per completed payment by process; several processes of a service
    (gateway, gateway-2, ...) counted as the service."""
    done = step.completed_in_window
    if not done:
        return {}
    spent: dict[str, float] = {}
    for name, seconds in step.cpu_seconds.items():
        service = name.partition("-")[0]
        spent[service] = spent.get(service, 0.0) + seconds * 1000 / done
    return spent


@dataclass(frozen=True)
class Floor:
    """A payment's floor: one call in, one call to identity, one HTTP call to the channel, one
    transaction in each of gateway and identity, the ledger posting amortised."""

    call_in: OpCost
    between_services: OpCost
    channel_http: OpCost
    transaction: OpCost
    ledger_posting: OpCost

    @property
    def parts_us(self) -> dict[str, float]:
        return {
            "gRPC call in": self.call_in.total_us,
            "gRPC call to identity": self.between_services.total_us,
            "HTTP call to the channel": self.channel_http.total_us,
            "2 database transactions": 2 * self.transaction.total_us,
            "ledger posting (batched)": self.ledger_posting.total_us,
        }

    @property
    def total_ms(self) -> float:
        return sum(self.parts_us.values()) / 1000


@dataclass
class Figures:
    server: str
    pgbench_tps: float
    floor: Floor
    steps: list[StepResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The floor as a path (floor_path), at the card steps' rates.
    floor_steps: list[StepResult] = field(default_factory=list)

    def best(self, kind: str) -> StepResult | None:
        """The highest sustained step of a kind."""
        ok = [s for s in self.steps if s.kind == kind and sustained(s)]
        return max(ok, key=lambda s: s.rate) if ok else None

    def reference(self, kind: str) -> StepResult | None:
        """The step the headline figures come from: the best, else the first of the kind."""
        return self.best(kind) or next((s for s in self.steps if s.kind == kind), None)

    def best_floor(self) -> StepResult | None:
        """The floor path's highest sustained step."""
        ok = [s for s in self.floor_steps if sustained(s)]
        return max(ok, key=lambda s: s.rate) if ok else None

    def floor_path_ms(self, rate: float) -> float | None:
        """The floor path's CPU per payment at a rate, the ledger posting's share added (it
        is amortised over a batch, not a hop of the path); None if the path did not run it."""
        step = next((s for s in self.floor_steps if s.rate == rate), None)
        cpu = cpu_ms_per_payment(step) if step else {}
        if not cpu:
            return None
        return sum(cpu.values()) + self.floor.ledger_posting.total_us / 1000


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def step_line(step: StepResult) -> str:
    lat = step.latencies_ms
    cpu = cpu_ms_per_payment(step)
    parts = " ".join(f"{name}={cpu[name]:.2f}" for name in PROCESS_ORDER if name in cpu)
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(step.errors.items())) or "none"
    return (
        f"{step.kind:6} offered {step.rate:5.0f}/s completed {step.completed_rate:6.1f}/s  "
        f"p50 {_ms(percentile(lat, 50))} p99 {_ms(percentile(lat, 99))} "
        f"p99.9 {_ms(percentile(lat, 99.9))} ms  errors {errors}  "
        f"cpu ms/payment {sum(cpu.values()):.2f} ({parts}){_postgres_part(step)}{_wal_part(step)}"
        f"{_machine_part(step)}"
        f"{'' if sustained(step) else '  NOT SUSTAINED'}"
    )


def _postgres_part(step: StepResult) -> str:
    """Postgres's CPU per completed payment by what its processes work for."""
    done = step.completed_in_window
    if not done or not step.postgres_seconds:
        return ""
    ranked = sorted(step.postgres_seconds.items(), key=lambda item: -item[1])
    return "  postgres for " + " ".join(f"{role}={s * 1000 / done:.2f}" for role, s in ranked)


def _wal_part(step: StepResult) -> str:
    """Postgres's writes per completed payment over the window, and checkpoints in it."""
    done, wal = step.completed_in_window, step.wal
    if not done or not wal:
        return ""
    return (
        f"  wal/payment {wal['records'] / done:.0f} records {wal['full_page_images'] / done:.1f} "
        f"fpi {wal['bytes'] / done / 1024:.1f} KB, checkpoints {wal['checkpoints']:.0f}"
    )


def _machine_part(step: StepResult) -> str:
    """How busy the whole machine was (and how much of that the hypervisor gave other guests:
    a shared host's noise), and its context switches per completed payment: on a small VM each
    switch that wakes a process costs tens of microseconds."""
    done, machine = step.completed_in_window, step.machine
    if not done or not machine:
        return ""
    return (
        f"  machine busy {machine['busy_share']:.0%} "
        f"({machine.get('steal_share', 0.0):.0%} stolen by the host), "
        f"{machine['context_switches'] / done:.0f} context switches/payment"
    )


def summary(figures: Figures) -> list[str]:
    floor = figures.floor
    lines = [
        f"server: {figures.server}",
        f"yardsticks: pgbench TPC-B {figures.pgbench_tps:.0f} tps; gRPC echo "
        f"{floor.call_in.rate:.0f} calls/s ({floor.call_in.total_us:.0f} us CPU per call)",
        "floor per payment (CPU, all processes):",
        *(f"  {name:28} {us / 1000:6.2f} ms" for name, us in floor.parts_us.items()),
        f"  {'total':28} {floor.total_ms:6.2f} ms",
    ]
    if figures.floor_steps:
        lines += [
            "floor path (those operations as real processes, open loop; the ledger posting's "
            "share is added where it is compared):",
            *(f"  {step_line(step)}" for step in figures.floor_steps),
            f"floor path: highest sustained {_rate(figures.best_floor())}",
        ]
    lines += ["steps:", *(f"  {step_line(step)}" for step in figures.steps)]
    for kind in ("card", "wallet"):
        reference = figures.reference(kind)
        if reference is None:
            continue
        cost = sum(cpu_ms_per_payment(reference).values())
        path = figures.floor_path_ms(reference.rate) if kind == "card" else None
        against_path = (
            "" if path is None else f", {cost / path:.2f}x the floor path there ({path:.2f} ms)"
        )
        lines.append(
            f"{kind}: highest sustained {_rate(figures.best(kind))}; CPU per payment there "
            f"{cost:.2f} ms = {cost / floor.total_ms:.2f}x the floor's parts{against_path}"
        )
    lines += [f"PROBLEM: {p}" for p in figures.problems] or ["invariants: all hold"]
    return lines


def _rate(step: StepResult | None) -> str:
    return "none" if step is None else f"{step.rate:.0f}/s"


def last_line(figures: Figures) -> str:
    best = figures.best("card")
    reference = figures.reference("card")
    lat = reference.latencies_ms if reference else []
    cpu = sum(cpu_ms_per_payment(reference).values()) if reference else 0.0
    errors = sum(s.error_count for s in figures.steps if s.kind == "card" and s is reference)
    floor_best = figures.best_floor()
    path = figures.floor_path_ms(reference.rate) if reference else None
    return (
        f"e2e_tps={best.rate if best else 0:.0f} p50_ms={_ms(percentile(lat, 50))} "
        f"p99_ms={_ms(percentile(lat, 99))} p999_ms={_ms(percentile(lat, 99.9))} "
        f"errors={errors} cpu_ms_per_payment={cpu:.2f} "
        f"floor_ms_per_payment={figures.floor.total_ms:.2f} "
        f"floor_tps={floor_best.rate if floor_best else 0:.0f} "
        f"floor_path_ms_per_payment={'-' if path is None else f'{path:.2f}'} "
        f"pgbench_tps={figures.pgbench_tps:.0f} echo_rps={figures.floor.call_in.rate:.0f} "
        f"invariants={'FAILED' if figures.problems else 'ok'}"
    )
