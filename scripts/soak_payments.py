"""`make soak`: a steady open-loop mix of card and wallet payments through the whole suite for
--minutes, each process's resident memory read every --sample-seconds; does any grow after the
warm-up? The suite, payers and load are the payment benchmark's (`make bench`); see
docs/benchmarks.md, "Memory soak"."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc

from paysuite.accounts import merchant_payable

# The helpers are the package scripts.bench, as mypy sees them, whatever the working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench import memory, memory_growth
from scripts.bench.payments import checks
from scripts.bench.payments.arrivals import StepResult
from scripts.bench.payments.openloop import StepSpec, run_step
from scripts.bench.payments.payers import create_payers
from scripts.bench.payments.suite import MERCHANT_ID, SuiteUnderTest, fresh_suite
from scripts.bench.session import BenchRun, bench_run, run_main, say, spawned
from scripts.bench.soak_options import parse_args
from scripts.bench.stats import percentile
from scripts.bench_payments import CARD, WALLETS, settle, suite_env

DATA_DIR = Path(__file__).resolve().parents[1] / ".data"


@dataclass
class Soak:
    """What a soak measured: the readings, and the load's outcome by kind."""

    settings: dict[str, object]
    samples: list[memory.Sample] = field(default_factory=list)
    loads: list[StepResult] = field(default_factory=list)
    died: dict[str, int | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


async def read_memory(
    suite: SuiteUnderTest, database: str, seconds: float, every: float, soak: Soak
) -> None:
    """A reading at 0, every `every` seconds and at `seconds`, timed from the call; a process
    that exits is noted and the readings go on without it."""
    started = time.monotonic()
    ticks = [i * every for i in range(int(seconds // every) + 1)]
    if ticks[-1] < seconds:
        ticks.append(seconds)
    for tick in ticks:
        await asyncio.sleep(max(0.0, started + tick - time.monotonic()))
        pids = suite.pids
        soak.samples.append(memory.sample(time.monotonic() - started, pids, database))
        for name, process in suite.running.processes.items():
            if process.returncode is not None and name not in soak.died:
                soak.died[name] = process.returncode
                say(f"{name} exited with {process.returncode} during the soak")
        mb = soak.samples[-1].mb
        say(f"{tick / 60:5.1f} min: " + " ".join(f"{k}={v:.0f}" for k, v in mb.items()))


async def drive(
    args: argparse.Namespace, suite: SuiteUnderTest, run: BenchRun, payers: tuple[str, ...]
) -> Soak:
    seconds = args.minutes * 60
    warmup = args.warmup_minutes * 60
    soak = Soak(settings={k: v for k, v in vars(args).items() if k != "env"})
    after = await checks.last_event(suite.database_url)
    plans = [("card", CARD, args.card_rate), ("wallet", WALLETS, args.wallet_rate)]
    specs = [
        StepSpec(
            gateways=suite.gateway_addrs,
            kind=kind,
            methods=methods,
            rate=rate,
            warmup_seconds=warmup,
            steady_seconds=seconds - warmup,
            drain_seconds=args.drain_seconds,
            payers=payers,
            merchant_id=MERCHANT_ID,
            id_prefix=f"{run.run_id}-soak-{kind[0]}-",
            after_sequence=after,
            pids=suite.pids,
            seed=args.seed * 100 + index,
        )
        for index, (kind, methods, rate) in enumerate(plans)
        if rate > 0
    ]
    await settle(suite.database_url)
    rates = ", ".join(f"{s.kind} {s.rate:g}/s" for s in specs)
    say(f"load: {rates} for {args.minutes:g} min (first {args.warmup_minutes:g} not judged)")
    reader = asyncio.create_task(
        read_memory(suite, run.database, seconds, args.sample_seconds, soak)
    )
    soak.loads = list(await asyncio.gather(*(spawned(run_step, spec) for spec in specs)))
    await reader
    return soak


async def soak_run(args: argparse.Namespace, run: BenchRun) -> Soak:
    suite = await fresh_suite(run.admin_url, run.database, run.work_dir)
    suite.extra_env = suite_env(args)
    suite.egress = not args.no_egress
    say("suite: migrating and starting ...")
    await suite.start()
    try:
        say(f"payers: real-naming {args.payers} with a bound card each ...")
        payers = await create_payers(
            suite.addr("identity"), suite.bank_url, f"S{run.run_id}", args.payers
        )
        if args.wallet_rate > 0:
            await suite.make_wallets_asynchronous()
        soak = await drive(args, suite, run, tuple(payers))
        say("checks: waiting for every payment and outbox message to settle ...")
        if not await checks.settled(suite.database_url, 90.0):
            say("checks: not everything settled within 90 s")
        soak.problems = await checks.problems(
            suite.database_url, MERCHANT_ID, merchant_payable(MERCHANT_ID, "CNY"), f"S{run.run_id}"
        )
    finally:
        codes = await suite.stop()
        say(f"suite: stopped {codes}")
    return soak


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class LoadRow:
    """One kind of payment over the judged window (payments sent after the warm-up)."""

    kind: str
    offered_per_s: float
    sent: int
    judged: int
    succeeded: int
    errors: int
    errors_by_outcome: dict[str, int]
    completed_per_s: float
    p50_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, step: StepResult) -> LoadRow:
        lat = step.latencies_ms
        return cls(
            step.kind,
            step.rate,
            step.sent,
            step.measured,
            step.measured - step.error_count,
            step.error_count,
            step.errors,
            round(step.completed_rate, 1),
            percentile(lat, 50),
            percentile(lat, 99),
        )

    def line(self) -> str:
        return (
            f"| {self.kind} | {self.offered_per_s:g} | {self.sent} | {self.judged} | "
            f"{self.succeeded} | {self.errors} | {self.completed_per_s} | "
            f"{_ms(self.p50_ms)} | {_ms(self.p99_ms)} |"
        )


@dataclass(frozen=True)
class Report:
    lines: list[str]
    document: dict[str, object]
    growing: list[str]


def report(soak: Soak, warmup_seconds: float) -> Report:
    """The printed lines (markdown tables, verdicts, a last machine-readable line) and the JSON
    document."""
    growths = memory_growth.growth(soak.samples, warmup_seconds, {memory.POSTGRES_VMRSS})
    start, middle, end = memory_growth.marks(soak.samples, warmup_seconds)
    rows = [LoadRow.of(step) for step in soak.loads]
    growing = memory_growth.growing(growths)
    p99 = percentile([ms for step in soak.loads for ms in step.latencies_ms], 99)
    last = (
        f"soak_minutes={end.at / 60:.1f} judged_minutes={(end.at - start.at) / 60:.1f} "
        f"payments={sum(r.succeeded for r in rows)} errors={sum(r.errors for r in rows)} "
        f"p99_ms={_ms(p99)} growing={','.join(growing) or 'none'} "
        f"died={','.join(soak.died) or 'none'} invariants={'FAILED' if soak.problems else 'ok'}"
    )
    lines = [
        *memory_growth.table(growths, start.at, middle.at, end.at),
        "",
        "| payments | offered/s | sent | judged | succeeded | errors | completed/s | p50 ms "
        "| p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row.line() for row in rows),
        "",
        f"postgres backends of the database: {start.backends} at the start, "
        f"{middle.backends} in the middle, {end.backends} at the end",
        *(f"verdict: {g.name}: {g.verdict}" for g in growths if not g.informational),
        *(f"DIED: {name} exited with {code}" for name, code in soak.died.items()),
        *([f"PROBLEM: {p}" for p in soak.problems] or ["invariants: all hold"]),
        last,
    ]
    document: dict[str, object] = {
        "settings": soak.settings,
        "marks_seconds": {"start": start.at, "middle": middle.at, "end": end.at},
        "thresholds": {"flat_mb": memory_growth.FLAT_MB, "flat_share": memory_growth.FLAT_SHARE},
        "processes": [
            {
                **asdict(g),
                "growth_mb": g.growth_mb,
                "per_10_minutes_mb": g.per_10_minutes_mb,
                "threshold_mb": g.threshold_mb,
                "verdict": g.verdict,
            }
            for g in growths
        ],
        "payments": [asdict(row) for row in rows],
        "p99_ms": p99,
        "died": soak.died,
        "problems": soak.problems,
        "samples": [asdict(s) for s in soak.samples],
        "last_line": last,
    }
    return Report(lines, document, growing)


def write(stem: Path, report: Report) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report.document, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(report.lines) + "\n")
    say(f"written: {stem}.json and {stem}.md")


async def main_async(args: argparse.Namespace) -> int:
    soak: Soak | None = None
    async with bench_run() as run:
        try:
            soak = await soak_run(args, run)
        except (RuntimeError, OSError, ValueError, grpc.RpcError) as exc:
            say(f"FAILED: {exc}")
    ok = soak is not None and not soak.problems and not soak.died
    run.keep_work_dir(args.keep_work_dir or not ok, "logs and traces")
    if soak is None or not soak.samples:
        return 1
    result = report(soak, args.warmup_minutes * 60)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    write(Path(args.out) if args.out else DATA_DIR / f"soak-{stamp}", result)
    sys.stdout.write("\n".join(result.lines) + "\n")
    return 0 if ok and not result.growing else 1


def main() -> int:
    return run_main(lambda: main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
