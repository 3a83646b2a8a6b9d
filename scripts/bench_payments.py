"""`make bench`: open-loop card and wallet payments through the whole suite, as real processes.

Yardsticks (pgbench TPC-B, a gRPC echo through the services' server stack) and the payment's
floor are measured in the same run; see docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TypeVar

import asyncpg
import grpc

from paysuite.accounts import merchant_payable
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.runtime.dsn import plain_postgres_url

# The helpers are the package scripts.bench, as mypy sees them, whatever the working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench.payments import checks, floors
from scripts.bench.payments.arrivals import StepResult
from scripts.bench.payments.chart import draw
from scripts.bench.payments.floor_path import (
    FloorStepSpec,
    echo_hop,
    floor_path,
    http_channel,
    run_floor_step,
)
from scripts.bench.payments.openloop import StepSpec, run_step
from scripts.bench.payments.options import parse_args
from scripts.bench.payments.payers import create_payers
from scripts.bench.payments.report import (
    Figures,
    Floor,
    last_line,
    step_line,
    summary,
)
from scripts.bench.payments.suite import MERCHANT_ID, SuiteUnderTest, fresh_suite
from scripts.bench.pgbench import PgbenchConfig, find_pgbench, run_pgbench
from scripts.bench.session import BenchRun, bench_run, run_main, say, spawned

T = TypeVar("T")
CARD = (gpb.PAYMENT_METHOD_BANK_CARD,)
WALLETS = (gpb.PAYMENT_METHOD_ALIPAY, gpb.PAYMENT_METHOD_WECHAT_PAY)
# A step completing less than this share of its offered rate has saturated: stop climbing.
GIVE_UP_SHARE = 0.8


async def server_version(admin_url: str) -> str:
    conn = await asyncpg.connect(plain_postgres_url(admin_url))
    try:
        return str(await conn.fetchval("SELECT current_setting('server_version')"))
    finally:
        await conn.close()


async def settle(database_url: str) -> None:
    """ANALYZE and CHECKPOINT before a step: the planner knows the tables as they have grown
    (a fresh database's first plans scan tables that soon are not small) and the step does
    not pay for the writes of the one before."""
    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        await conn.execute("ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def suite_env(args: argparse.Namespace) -> dict[str, str]:
    """The services' environment: traces sampled at --trace-ratio as in production, and --env."""
    return {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(args.trace_ratio),
        **dict(item.split("=", 1) for item in args.env),
    }


async def measure_floor(
    args: argparse.Namespace, suite: SuiteUnderTest, env: dict[str, str]
) -> Floor:
    seconds = args.floor_seconds
    async with http_channel() as http, echo_hop(env) as echo:
        call_in = await spawned(floors.grpc_echo, echo.address, False, seconds, echo.pid)
        between = await spawned(floors.grpc_echo, echo.address, True, seconds, echo.pid)
        channel = await spawned(floors.http_echo, http.address, seconds, http.pid)
    transaction = await spawned(floors.db_transaction, suite.database_url, seconds)
    ledger = await spawned(
        floors.ledger_posting, suite.addr("ledger"), seconds, suite.pids["ledger"]
    )
    return Floor(call_in, between, channel, transaction, ledger)


async def run_floor_path(
    args: argparse.Namespace, suite: SuiteUnderTest, env: dict[str, str]
) -> list[StepResult]:
    """The floor as a path, offered the card steps' rates (see floor_path)."""
    steps: list[StepResult] = []
    async with floor_path(suite.database_url, env) as path:
        for rate in args.card_rates:
            spec = FloorStepSpec(
                address=path.address,
                rate=rate,
                warmup_seconds=args.warmup_seconds,
                steady_seconds=args.steady_seconds,
                drain_seconds=args.drain_seconds,
                pids=path.pids,
                caller=f"merchant-{MERCHANT_ID}",
                database_url=suite.database_url,
            )
            say(f"floor path: {rate:g}/s for {args.warmup_seconds:g} + {args.steady_seconds:g} s")
            step = await spawned(run_floor_step, spec)
            steps.append(step)
            say(step_line(step))
            if step.completed_rate < GIVE_UP_SHARE * rate:
                say("floor path: saturated; not climbing further")
                break
    return steps


PRIMING_RATE = 100.0
PRIMING_SECONDS = 10.0


Methods = tuple[gpb.PaymentMethod.ValueType, ...]


def _plans(args: argparse.Namespace) -> list[tuple[str, Methods, list[float]]]:
    """Each kind of payment the run measures, its methods and its steps' rates."""
    return [("card", CARD, args.card_rates), ("wallet", WALLETS, args.wallet_rates)]


async def _spec(
    args: argparse.Namespace,
    suite: SuiteUnderTest,
    payers: tuple[str, ...],
    kind: str,
    methods: Methods,
    rate: float,
    *,
    id_prefix: str,
    seed: int,
    warmup_seconds: float,
    steady_seconds: float,
) -> StepSpec:
    return StepSpec(
        gateways=suite.gateway_addrs,
        kind=kind,
        methods=methods,
        rate=rate,
        warmup_seconds=warmup_seconds,
        steady_seconds=steady_seconds,
        drain_seconds=args.drain_seconds,
        payers=payers,
        merchant_id=MERCHANT_ID,
        id_prefix=id_prefix,
        after_sequence=await checks.last_event(suite.database_url),
        pids=suite.pids,
        seed=seed,
        database_url=suite.database_url,
    )


async def prime(
    args: argparse.Namespace, suite: SuiteUnderTest, payers: tuple[str, ...], run_id: str
) -> None:
    """Payments of each kind the run measures, before its first step and not measured; ANALYZE
    follows before the step. A fresh database's tables are empty when the first step starts,
    the planner's statistics say so, and its plans then scanned whole tables as they grew:
    sequential scans read 11 million channel_attempts tuples in 10 s of a first card step,
    and every wallet notification scanned channel_notifications, none of it in later steps."""
    for number, (kind, methods, rates) in enumerate(_plans(args)):
        if not rates:
            continue
        if kind == "wallet":
            await suite.make_wallets_asynchronous()
        spec = await _spec(
            args,
            suite,
            payers,
            kind,
            methods,
            PRIMING_RATE,
            id_prefix=f"{run_id}-prime{number}-",
            seed=args.seed * 100 + 90 + number,
            warmup_seconds=0.0,
            steady_seconds=PRIMING_SECONDS,
        )
        say(f"priming: {PRIMING_RATE:g} {kind} payments/s for {PRIMING_SECONDS:g} s, not measured")
        await spawned(run_step, spec)
        await checks.settled(suite.database_url, 60.0)


async def run_steps(
    args: argparse.Namespace, suite: SuiteUnderTest, payers: tuple[str, ...], run_id: str
) -> list[StepResult]:
    steps: list[StepResult] = []
    await prime(args, suite, payers, run_id)
    for kind, methods, rates in _plans(args):
        if kind == "wallet" and rates:
            await suite.make_wallets_asynchronous()
        for index, rate in enumerate(rates):
            spec = await _spec(
                args,
                suite,
                payers,
                kind,
                methods,
                rate,
                id_prefix=f"{run_id}-{kind[0]}{index}-",
                seed=args.seed * 100 + index,
                warmup_seconds=args.warmup_seconds,
                steady_seconds=args.steady_seconds,
            )
            await settle(suite.database_url)
            say(f"{kind}: {rate:g}/s for {args.warmup_seconds:g} + {args.steady_seconds:g} s")
            step = await spawned(run_step, spec)
            suite.check_alive()
            steps.append(step)
            say(step_line(step))
            # What a step left in flight (a backlog, the outbox) is done before the next starts.
            await checks.settled(suite.database_url, 60.0)
            if step.completed_rate < GIVE_UP_SHARE * rate:
                say(f"{kind}: saturated; not climbing further")
                break
    return steps


async def bench(args: argparse.Namespace, run: BenchRun) -> Figures:
    admin_url, run_id = run.admin_url, run.run_id
    embedded = not os.environ.get("DATABASE_URL")
    version = await server_version(admin_url)
    pgbench_path = find_pgbench(int(version.split(".")[0]), embedded, args.pgbench)
    config = PgbenchConfig(scale=args.pgbench_scale, seconds=args.pgbench_seconds)
    say(f"yardstick: pgbench TPC-B -s {config.scale}, {config.seconds} s")
    pgbench_tps = await run_pgbench(pgbench_path, admin_url, config)
    say(f"yardstick: {pgbench_tps:.0f} tps")
    suite = await fresh_suite(admin_url, run.database, run.work_dir)
    suite.extra_env = suite_env(args)
    suite.gateways = args.gateways
    # The floor's own clients and echo server sample as the suite does.
    os.environ.update({k: v for k, v in suite.extra_env.items() if k.startswith("OTEL_")})
    say("suite: migrating and starting ...")
    await suite.start()
    try:
        say(f"payers: real-naming {args.payers} with a bound card each ...")
        payers = await create_payers(
            suite.addr("identity"), suite.bank_url, f"P{run_id}", args.payers
        )
        say("floor: echo, HTTP, transaction and batched-posting costs ...")
        floor = await measure_floor(args, suite, suite.running.env())
        floor_steps = await run_floor_path(args, suite, suite.running.env())
        steps = await run_steps(args, suite, tuple(payers), run_id)
        say("checks: waiting for every payment and outbox message to settle ...")
        if not await checks.settled(suite.database_url, 90.0):
            say("checks: not everything settled within 90 s")
        problems = await checks.problems(
            suite.database_url, MERCHANT_ID, merchant_payable(MERCHANT_ID, "CNY"), f"P{run_id}"
        )
    finally:
        codes = await suite.stop()
        say(f"suite: stopped {codes}")
    return Figures(
        server=f"PostgreSQL {version} ({'embedded' if embedded else 'DATABASE_URL'}); "
        f"traces sampled {args.trace_ratio:g}",
        pgbench_tps=pgbench_tps,
        floor=floor,
        steps=steps,
        problems=problems,
        floor_steps=floor_steps,
    )


async def main_async(args: argparse.Namespace) -> int:
    figures: Figures | None = None
    async with bench_run() as run:
        try:
            figures = await bench(args, run)
        except (RuntimeError, OSError, ValueError, grpc.RpcError) as exc:
            say(f"FAILED: {exc}")
    ok = figures is not None and not figures.problems
    run.keep_work_dir(args.keep_work_dir or not ok, "logs and traces")
    if figures is None:
        return 1
    if args.chart:
        draw(figures.floor_steps + figures.steps, Path(args.chart), figures.server)
        say(f"chart: {args.chart}")
    sys.stdout.write("\n".join([*summary(figures), last_line(figures)]) + "\n")
    return 0 if ok else 1


def main() -> int:
    return run_main(lambda: main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
