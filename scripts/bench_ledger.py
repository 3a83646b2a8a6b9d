"""`make bench-ledger`: ledger batch and single-transfer throughput against a pgbench yardstick."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import asyncpg
import grpc

from devstack.pki import dev_channel
from devstack.provision import provision
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.server import MAX_MESSAGE_BYTES

# The helpers are the package scripts.bench, as mypy sees them, whatever the working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench import invariants
from scripts.bench.floor import run_floor
from scripts.bench.ledger_process import LedgerProcess
from scripts.bench.load import LoadResult, LoadSpec, run_load
from scripts.bench.options import parse_args
from scripts.bench.pgbench import (
    PgbenchConfig,
    find_pgbench,
    run_pgbench,
)
from scripts.bench.report import Figures, last_line, summary
from scripts.bench.session import bench_run, run_main, say, spawned
from scripts.bench.workload import account_chunks

T = TypeVar("T")
CREATED_OR_EXISTS = (pb.CREATE_ACCOUNT_RESULT_CREATED, pb.CREATE_ACCOUNT_RESULT_EXISTS)


async def server_version(admin_url: str) -> tuple[int, str]:
    conn = await asyncpg.connect(plain_postgres_url(admin_url))
    try:
        number = int(await conn.fetchval("SELECT current_setting('server_version_num')"))
        text = str(await conn.fetchval("SELECT current_setting('server_version')"))
    finally:
        await conn.close()
    return number // 10000, text


async def settle(database_url: str, analyze: bool = False) -> None:
    """ANALYZE (optionally) and CHECKPOINT, so the timed phase does not pay for earlier writes."""
    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        if analyze:
            await conn.execute("ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def create_accounts(address: str, cold_count: int, hot_sub_accounts: int) -> None:
    options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    async with dev_channel(address, options=options) as channel:
        stub = pb_grpc.LedgerServiceStub(channel)
        for request in account_chunks(cold_count, hot_sub_accounts):
            response = await stub.CreateAccounts(request, timeout=600)
            bad = [r for r in response.results if r.result not in CREATED_OR_EXISTS]
            if bad or len(response.results) != len(request.accounts):
                raise RuntimeError(f"CreateAccounts refused accounts, first: {bad[:1]}")


async def in_process(spec: LoadSpec) -> LoadResult:
    """Runs one phase's clients in a spawned process, off this process's event loop."""
    return await spawned(run_load, spec)


async def bench(args: argparse.Namespace, admin_url: str, run_id: str, work_dir: Path) -> Figures:
    embedded = not os.environ.get("DATABASE_URL")
    major, version = await server_version(admin_url)
    pgbench_path = find_pgbench(major, embedded, args.pgbench)
    pg = PgbenchConfig(
        args.pgbench_scale, args.pgbench_clients, args.pgbench_threads, args.pgbench_seconds
    )
    say(f"yardstick: pgbench TPC-B -s {pg.scale}, {pg.seconds} s ({pgbench_path})")
    pgbench_tps = await run_pgbench(pgbench_path, admin_url, pg)
    say(f"yardstick: {pgbench_tps:.0f} tps")
    database_url = await provision(admin_url, f"paysuite_bench_{run_id}", services=("ledger",))
    extra_env = dict(item.split("=", 1) for item in args.ledger_env)
    ledger = LedgerProcess(database_url, work_dir, extra_env)
    say("ledger: migrating and starting ...")
    await ledger.migrate()
    await ledger.start()
    try:
        say(f"ledger: SERVING on {ledger.address}; creating 1 + {args.accounts} accounts")
        await create_accounts(ledger.address, args.accounts, args.hot_sub_accounts)
        batch_spec = LoadSpec(
            address=ledger.address,
            phase="batch",
            clients=args.batch_clients,
            batch_size=args.batch_size,
            seconds=args.batch_seconds,
            warmup_seconds=args.warmup_seconds,
            cold_count=args.accounts,
            hot_share=args.hot_share,
            id_prefix=f"bench-{run_id}-",
            seed=args.seed,
            ledger_pid=ledger.pid,
        )
        await settle(database_url, analyze=True)
        say(f"batch: {args.batch_clients} clients x {args.batch_size}, {args.batch_seconds:g} s")
        batch = await in_process(batch_spec)
        ledger.check_alive()
        await settle(database_url)
        say(f"single: {args.single_clients} clients, {args.single_seconds:g} s")
        single = await in_process(
            replace(
                batch_spec,
                phase="single",
                clients=args.single_clients,
                batch_size=1,
                seconds=args.single_seconds,
            )
        )
        ledger.check_alive()
        say(
            f"gRPC floor: {args.single_clients} clients calling health Check, "
            f"{args.floor_seconds:g} s"
        )
        floor = await spawned(
            run_floor, ledger.address, args.single_clients, args.floor_seconds, ledger.pid
        )
        ledger.check_alive()
        say("invariants: checking the books ...")
        problem = await invariants.check(database_url, batch.posted_ranges + single.posted_ranges)
    finally:
        code = await ledger.stop()
        say(f"ledger: stopped (exit code {code})")
    return Figures(
        server=f"PostgreSQL {version} ({'embedded' if embedded else 'DATABASE_URL'})",
        pgbench_path=str(pgbench_path),
        pgbench=pg,
        pgbench_tps=pgbench_tps,
        batch=batch,
        batch_size=args.batch_size,
        single=single,
        floor=floor,
        accounts=args.accounts,
        hot_share=args.hot_share,
        problem=problem,
    )


async def main_async(args: argparse.Namespace) -> int:
    figures: Figures | None = None
    async with bench_run() as run:
        try:
            figures = await bench(args, run.admin_url, run.run_id, run.work_dir)
        except (RuntimeError, grpc.RpcError) as exc:
            say(f"FAILED: {exc}")
    ok = figures is not None and figures.invariants_ok and not figures.errors
    run.keep_work_dir(args.keep_work_dir or not ok, "ledger log and traces")
    if figures is not None:
        sys.stdout.write("\n".join([*summary(figures), last_line(figures)]) + "\n")
    return 0 if ok else 1


def main() -> int:
    return run_main(lambda: main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
