"""The payment benchmark's reading of the whole machine: busy share, the share the hypervisor
gave other guests, and context switches."""

from __future__ import annotations

from scripts.bench.payments.arrivals import StepResult
from scripts.bench.payments.report import step_line
from scripts.bench.proc_cpu import CpuSnapshot, machine_counters, machine_use

STAT = """cpu  {user} 0 {system} {idle} {iowait} 0 {softirq} {steal} 0 0
cpu0 1 0 1 1 0 0 0 0 0 0
intr 12345 0 0
ctxt {ctxt}
btime 1796570000
"""


def _snapshot(
    at: float,
    user: int,
    system: int,
    idle: int,
    iowait: int,
    softirq: int,
    ctxt: int,
    steal: int = 0,
) -> CpuSnapshot:
    text = STAT.format(
        user=user,
        system=system,
        idle=idle,
        iowait=iowait,
        softirq=softirq,
        steal=steal,
        ctxt=ctxt,
    )
    return CpuSnapshot(at, {}, {}, {}, machine_counters(text))


def test_busy_is_every_tick_but_idle_and_iowait_and_switches_are_counted() -> None:
    counters = machine_counters(
        STAT.format(user=65, system=15, idle=10, iowait=3, softirq=2, steal=5, ctxt=9)
    )
    assert counters == {"total": 100, "busy": 87, "steal": 5, "context_switches": 9}


def test_the_machines_use_between_two_snapshots() -> None:
    before = _snapshot(0.0, user=100, system=20, idle=80, iowait=0, softirq=0, ctxt=1_000)
    after = _snapshot(
        1.0, user=230, system=50, idle=100, iowait=0, softirq=0, ctxt=19_500, steal=20
    )
    assert machine_use(before, after) == {
        "busy_share": 0.9,
        "steal_share": 0.1,
        "context_switches": 18_500.0,
    }
    assert machine_use(CpuSnapshot(0.0, {}, {}), after) == {}


def test_the_step_line_gives_the_busy_share_and_switches_per_payment() -> None:
    step = StepResult(
        kind="card",
        rate=400,
        window_seconds=1.0,
        completed_in_window=400,
        latencies_ms=[10.0] * 400,
        cpu_seconds={"gateway": 0.72},
        machine={"busy_share": 0.92, "steal_share": 0.13, "context_switches": 18_400.0},
    )
    assert "machine busy 92% (13% stolen by the host), 46 context switches/payment" in (
        step_line(step)
    )
    assert "machine busy" not in step_line(StepResult(kind="card", rate=400))
