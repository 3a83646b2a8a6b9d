"""`make bench-recon`: reconciliation of N rows through the recon service, against a naive
Postgres FULL OUTER JOIN on the same data in the same run.

For each N the benchmark generates, with a known mix of planted differences of every kind, a
channel's bill for a date (COPYed straight into recon.statement_lines with its import, as
ImportStatement writes them) and our side (the gateway's records and the ledger's entries on
the channel's receivable) as files in the engine's columns, which the recon service reads
through its records port (RECON_RECORDS_DIR: the bench's stand-in for the gateway's and the
ledger's streams). A real recon process and a real ledger process then run RunReconciliation:
bill lines out of Postgres, staging, 1,024 buckets matched in worker processes, every
difference stored and parked in the ledger's suspense account. The benchmark checks each
planted difference was found and nothing else, samples the memory of the service and of its
engine's worker processes, and times the naive baseline: our side COPYed into Postgres and
all three matched with one FULL OUTER JOIN.

Last line, for the largest N:
recon_rows=<n> recon_s=<n> recon_peak_mb=<n> baseline_s=<n> planted_found=<n>/<n>
false_positives=<n> (one line)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import duckdb
from google.type.date_pb2 import Date

from devstack.pki import dev_channel
from devstack.provision import provision
from paysuite import accounts
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.dsn import plain_postgres_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench.ledger_process import LedgerProcess
from scripts.bench.session import bench_run, run_main, say

DAY = date(2026, 11, 30)
CUT = int(
    datetime.combine(DAY + timedelta(days=1), clock_time(), ZoneInfo("Asia/Shanghai")).timestamp()
)
# One in PLANT_EVERY payments is planted, class by class (the remainder picks the class).
PLANT_EVERY = 10000
PLANTED = {
    0: "long",  # on the bill only
    1: "short",  # ours and the ledger's only
    2: "amount_mismatch",  # the bill says one fen more
    3: "state_mismatch",  # the bill says FAIL
    4: "fee_mismatch",  # the bill's fee one fen more
    5: "duplicate",  # the bill lists it twice
    6: "ledger_mismatch",  # the ledger never booked the capture
}
CARRIED_CLASS = 7  # missing from the bill, a minute before the cut: carried, no difference
FALLBACK_CLASS = 8  # the bill garbled our order id: matched by the channel's id


def _generate(folder: Path, n: int, import_id: str) -> None:
    """Our side (ours.csv, ledger_entries.csv) and the bill (bill.csv, recon's line columns)."""
    db = duckdb.connect()
    db.execute("SET threads = 2")
    db.execute(f"""
        CREATE TABLE p AS SELECT i,
            'pay_' || lpad(i::VARCHAR, 12, '0') AS key, 'T' || i AS trade,
            100 + (i * 7919) % 100000 AS amount,
            CASE WHEN i % {PLANT_EVERY} = {CARRIED_CLASS} THEN {CUT} - 60
                ELSE {CUT} - 86000 + (i * 13) % 80000 END AS moment,
            i % {PLANT_EVERY} AS class, i % 100 = 55 AS failed, i % 50 = 10 AS refunded
        FROM range({n}) t(i)
    """)
    db.execute("ALTER TABLE p ADD COLUMN fee BIGINT")
    db.execute("UPDATE p SET fee = amount * 6 // 1000")
    ours = folder / "ours.csv"
    db.execute(f"""COPY (
        SELECT 'payment' AS kind, key, trade AS channel_id, 'CNY' AS currency, amount, fee,
            CASE WHEN failed THEN 'failed' ELSE 'succeeded' END AS state, false AS flagged,
            'M100001' AS merchant_id, moment
        FROM p WHERE class <> 0
        UNION ALL
        SELECT 'refund', 'ref_' || i, 'R' || i, 'CNY', amount // 2, NULL, 'succeeded', false,
            'M100001', moment + 10
        FROM p WHERE refunded AND NOT failed AND class > 8
    ) TO '{ours}' (HEADER, NULLSTR '')""")
    db.execute(f"""COPY (
        SELECT key || ':capture' AS transfer_id, 'D' AS side, amount, 'CNY' AS currency,
            moment + 1 AS moment
        FROM p WHERE class NOT IN (0, 6) AND NOT failed
        UNION ALL SELECT key || ':capture', 'C', fee, 'CNY', moment + 1
        FROM p WHERE class NOT IN (0, 6) AND NOT failed AND fee > 0
        UNION ALL SELECT 'ref_' || i || ':refund', 'C', amount // 2, 'CNY', moment + 11
        FROM p WHERE refunded AND NOT failed AND class > 8
    ) TO '{folder / "ledger_entries.csv"}' (HEADER)""")
    fee = "printf('%d.%03d', {a} // 100, ({a} % 100) * 10)"
    db.execute(f"""COPY (
        SELECT '{import_id}' AS import_id, row_number() OVER () AS seq,
            row_number() OVER () AS line_no, * FROM (
        SELECT 'payment' AS kind, 'credit' AS direction, trade AS channel_transaction_id,
            CASE WHEN class = {FALLBACK_CLASS} THEN 'x' || key ELSE key END AS order_id,
            '' AS channel_refund_id, '' AS refund_id, 'CNY' AS currency,
            amount + (class = 2)::INT AS amount_minor_units,
            {fee.format(a="(fee + (class = 4)::INT)")} AS fee,
            to_timestamp(moment) AS occurred_at,
            CASE WHEN class = 3 THEN 'FAIL' ELSE 'SUCCESS' END AS status
        FROM p WHERE class NOT IN (1, {CARRIED_CLASS}) AND NOT failed
        UNION ALL
        SELECT 'payment', 'credit', 'D' || i, key, '', '', 'CNY', amount,
            {fee.format(a="fee")}, to_timestamp(moment), 'SUCCESS'
        FROM p WHERE class = 5
        UNION ALL
        SELECT 'refund', 'debit', trade, key, 'R' || i, 'ref_' || i, 'CNY', amount // 2,
            '0.000', to_timestamp(moment + 10), 'SUCCESS'
        FROM p WHERE refunded AND NOT failed AND class > 8)
    ) TO '{folder / "bill.csv"}' (HEADER)""")
    db.close()


def _planted(n: int) -> set[tuple[str, str]]:
    found = set()
    for i in range(n):
        outcome = PLANTED.get(i % PLANT_EVERY)
        if outcome is not None and i % 100 != 55:
            found.add((outcome, f"pay_{i:012d}"))
    return found


async def _load_bill(url: str, folder: Path, channel: str, import_id: str) -> int:
    conn = await asyncpg.connect(plain_postgres_url(url))
    try:
        await conn.execute("SET search_path TO recon")
        with (folder / "bill.csv").open("rb") as source:
            await conn.copy_to_table(
                "statement_lines", source=source, format="csv", header=True, schema_name="recon"
            )
        rows = int(
            await conn.fetchval(
                "SELECT count(*) FROM recon.statement_lines WHERE import_id = $1", import_id
            )
        )
        await conn.execute(
            """INSERT INTO recon.statement_imports VALUES ($1, $2, 'csv', $3, $4, 0, 'current',
            $5, '[]', 0, '[]', true, NULL, '[]', NULL, now())""",
            import_id,
            channel,
            DAY,
            "0" * 64,
            rows,
        )
        await conn.execute("ANALYZE recon.statement_lines")
    finally:
        await conn.close()
    return rows


def _rss_mb(pid: int) -> tuple[float, list[int]]:
    """A process's resident memory (MB) and its children's pids."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0.0, []
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    return rss / 1024, children


@dataclass
class Peaks:
    service_mb: float = 0.0
    engine_mb: float = 0.0
    total_mb: float = 0.0


async def _sample(pid: int, peaks: Peaks, stop: asyncio.Event) -> None:
    while not stop.is_set():
        service, children = _rss_mb(pid)
        engine = sum(_rss_mb(c)[0] for c in children)
        peaks.service_mb = max(peaks.service_mb, service)
        peaks.engine_mb = max(peaks.engine_mb, engine)
        peaks.total_mb = max(peaks.total_mb, service + engine)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def _found(recon: rpb_grpc.ReconServiceAsyncStub, channel: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    token = ""
    while True:
        page = await recon.ListDiscrepancies(
            rpb.ListDiscrepanciesRequest(channel=channel, page_size=1000, page_token=token)
        )
        for d in page.discrepancies:
            found.add(
                (
                    rpb.MatchOutcome.Name(d.outcome).removeprefix("MATCH_OUTCOME_").lower(),
                    d.transaction_id,
                )
            )
        token = page.next_page_token
        if not token:
            return found


BASELINE = """
WITH b AS (
    SELECT kind, CASE WHEN kind = 'refund' THEN refund_id ELSE order_id END AS key,
        amount_minor_units AS amount, round(fee * 100)::bigint AS fee, status
    FROM recon.statement_lines WHERE import_id = $1),
l AS (
    SELECT split_part(transfer_id, ':', 1) AS key,
        sum(CASE WHEN side = 'D' THEN amount ELSE -amount END) AS net
    FROM bench.ledger GROUP BY transfer_id)
SELECT CASE
    WHEN g.key IS NULL THEN 'long'
    WHEN b.key IS NULL AND g.state = 'succeeded' THEN 'short'
    WHEN b.key IS NULL THEN 'matched'
    WHEN (b.status = 'SUCCESS') <> (g.state = 'succeeded') THEN 'state_mismatch'
    WHEN b.amount <> g.amount THEN 'amount_mismatch'
    WHEN g.kind = 'payment' AND b.fee <> g.fee THEN 'fee_mismatch'
    WHEN coalesce(l.net, 0) <> CASE WHEN g.state <> 'succeeded' THEN 0
        WHEN g.kind = 'payment' THEN g.amount - g.fee ELSE -g.amount END THEN 'ledger_mismatch'
    ELSE 'matched' END AS outcome, count(*)
FROM b FULL OUTER JOIN bench.ours g ON g.kind = b.kind AND g.key = b.key
FULL OUTER JOIN l ON l.key = coalesce(g.key, b.key)
GROUP BY 1
"""


async def _baseline(url: str, folder: Path, import_id: str) -> tuple[float, float, dict[str, int]]:
    """Our side COPYed into Postgres (seconds), then one FULL OUTER JOIN (seconds, counts)."""
    conn = await asyncpg.connect(plain_postgres_url(url))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench")
        await conn.execute("""CREATE UNLOGGED TABLE bench.ours (kind text, key text,
            channel_id text, currency text, amount bigint, fee bigint, state text,
            flagged boolean, merchant_id text, moment bigint)""")
        await conn.execute("""CREATE UNLOGGED TABLE bench.ledger (transfer_id text, side text,
            amount bigint, currency text, moment bigint)""")
        started = time.perf_counter()
        for table, name in (("ours", "ours.csv"), ("ledger", "ledger_entries.csv")):
            with (folder / name).open("rb") as source:
                await conn.copy_to_table(
                    table, source=source, format="csv", header=True, schema_name="bench"
                )
        await conn.execute("ANALYZE bench.ours; ANALYZE bench.ledger")
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        rows = await conn.fetch(BASELINE, import_id, timeout=3600)
        joined = time.perf_counter() - started
        await conn.execute("DROP SCHEMA bench CASCADE")
    finally:
        await conn.close()
    return loaded, joined, {r[0]: r[1] for r in rows}


@dataclass
class Result:
    n: int
    rows: int
    read: int
    seconds: float
    peaks: Peaks
    planted: int
    found: int
    false_positives: int
    load_s: float
    join_s: float
    counts: dict[str, int]
    baseline_counts: dict[str, int]


async def _open_receivable(ledger_addr: str, channel: str) -> None:
    """The channel's receivable, which the gateway opens for a channel it has."""
    async with dev_channel(ledger_addr) as conn:
        await lpb_grpc.LedgerServiceStub(conn).CreateAccounts(
            lpb.CreateAccountsRequest(
                accounts=[
                    lpb.AccountSpec(
                        account_id=accounts.channel_receivable(channel, "CNY"),
                        name=f"Receivable from {channel}",
                        type=lpb.ACCOUNT_TYPE_ASSET,
                        currency_code="CNY",
                        owner_type=lpb.OWNER_TYPE_CHANNEL,
                        owner_id=channel,
                    )
                ]
            )
        )


async def _one(
    url: str, work: Path, recon_addr: str, recon_pid: int, ledger_addr: str, n: int
) -> Result:
    channel = f"bench{n}"
    await _open_receivable(ledger_addr, channel)
    folder = work / "records" / channel / DAY.isoformat()
    folder.mkdir(parents=True)
    import_id = f"imp_bench_{secrets.token_hex(6)}"
    say(f"N={n:,}: generating the bill and our side ...")
    await asyncio.to_thread(_generate, folder, n, import_id)
    bill_rows = await _load_bill(url, folder, channel, import_id)
    say(f"N={n:,}: {bill_rows:,} bill lines loaded; reconciling through the service ...")
    peaks, stop = Peaks(), asyncio.Event()
    sampler = asyncio.create_task(_sample(recon_pid, peaks, stop))
    async with dev_channel(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        started = time.perf_counter()
        answer = await recon.RunReconciliation(
            rpb.RunReconciliationRequest(
                request_id=f"bench-{secrets.token_hex(6)}",
                channel=channel,
                statement_date=Date(year=DAY.year, month=DAY.month, day=DAY.day),
            ),
            timeout=3600,
        )
        seconds = time.perf_counter() - started
        stop.set()
        await sampler
        run = answer.run
        if run.state != rpb.ReconciliationRun.STATE_COMPLETED:
            raise RuntimeError(f"run failed: {run.failure}")
        found = await _found(recon, channel)
    planted = _planted(n)
    counts = {
        rpb.MatchOutcome.Name(c.outcome).removeprefix("MATCH_OUTCOME_").lower(): c.count
        for c in run.outcome_counts
    }
    say(f"N={n:,}: {seconds:.1f} s; baseline: our side into Postgres, one FULL OUTER JOIN ...")
    load_s, join_s, baseline_counts = await _baseline(url, folder, import_id)
    rows = run.statement_rows
    read = run.statement_rows + run.our_records + run.ledger_records
    for name in ("ours.csv", "ledger_entries.csv", "bill.csv"):
        (folder / name).unlink()
    return Result(
        n,
        rows,
        read,
        seconds,
        peaks,
        len(planted),
        len(planted & found),
        len(found - planted),
        load_s,
        join_s,
        counts,
        baseline_counts,
    )


def _report(results: list[Result]) -> str:
    lines = [
        f"{'N':>12} {'bill rows':>11} {'all read':>11} {'recon s':>8} {'rows/s':>11} "
        f"{'service MB':>10} {'engine MB':>9} {'peak MB':>8} {'baseline s':>10} "
        f"{'(load+join)':>13} planted",
    ]
    for r in results:
        lines.append(
            f"{r.n:>12,} {r.rows:>11,} {r.read:>11,} {r.seconds:>8.1f} "
            f"{r.rows / r.seconds:>11,.0f} {r.peaks.service_mb:>10.0f} {r.peaks.engine_mb:>9.0f} "
            f"{r.peaks.total_mb:>8.0f} {r.load_s + r.join_s:>10.1f} "
            f"{f'({r.load_s:.1f}+{r.join_s:.1f})':>13} {r.found}/{r.planted}"
            f" fp={r.false_positives}"
        )
        lines.append(f"{'':>12} outcomes {json.dumps(r.counts)}")
        lines.append(f"{'':>12} baseline {json.dumps(r.baseline_counts)}")
    last = results[-1]
    lines.append(
        f"recon_rows={last.rows} recon_s={last.seconds:.1f} "
        f"recon_peak_mb={last.peaks.total_mb:.0f} "
        f"baseline_s={last.load_s + last.join_s:.1f} planted_found={last.found}/{last.planted} "
        f"false_positives={last.false_positives}"
    )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description="recon throughput against a naive join")
    parser.add_argument("--quick", action="store_true", help="one small N, a smoke run")
    parser.add_argument("--sizes", default="", help="comma-separated N (default 1M,10M)")
    parser.add_argument("--keep", action="store_true", help="keep the services' logs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] or (
        [100_000] if args.quick else [1_000_000, 10_000_000]
    )
    async with bench_run() as bench:
        url = await provision(bench.admin_url, bench.database)
        env = {
            "RECON_RECORDS_DIR": str(bench.work_dir / "records"),
            "RECON_WORK_DIR": str(bench.work_dir / "staging"),
            "RECON_STATEMENT_FORMATS": "{}",
            "GATEWAY_ADDR": "127.0.0.1:9",
        }
        ledger = LedgerProcess(url, bench.work_dir, {})
        await ledger.migrate()
        await ledger.start()
        recon = LedgerProcess(
            url, bench.work_dir, {**env, "LEDGER_ADDR": ledger.address}, service="recon"
        )
        await recon.migrate()
        await recon.start()
        try:
            assert recon.pid is not None
            results = [
                await _one(url, bench.work_dir, recon.address, recon.pid, ledger.address, n)
                for n in sizes
            ]
        finally:
            await recon.stop()
            await ledger.stop()
            bench.keep_work_dir(args.keep, "logs")
    sys.stdout.write(_report(results) + "\n")
    ok = all(r.found == r.planted and r.false_positives == 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(run_main(main))
