"""Pipelined posting: batches decided on predicted totals commit only if the rows agree.

Two pipelines on one database stand for two ledger replicas. Whatever makes a prediction
stale (the other replica posting, a freeze, a day-cut, a reused id, a failed batch before)
must send the batch down the locking path, and the books must come out as if there had been
no prediction at all.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.provision import drop_database, provision
from ledger.bootstrap import DEFINITION
from ledger.domain.book import Outcome
from ledger.domain.model import (
    AccountSpec,
    AccountType,
    OwnerType,
    Posting,
    TransferRequest,
    TransferResult,
)
from ledger.service_layer import day_cycle, transfers
from ledger.service_layer.pipeline import PATH_ATTRIBUTE, PostingPipeline
from ledger.service_layer.unit_of_work import LedgerUnits
from paysuite.money import Money
from paysuite.runtime.database import create_pool
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.migrations import upgrade_to_head
from tests.helpers import service_dsn

ACCOUNTS = ("cash", "shop1", "shop2", "shop3", "fees")
WALLET = "wallet"  # no overdraft


def now() -> datetime:
    return datetime.now(UTC)


def move(transfer_id: str, debit: str, credit: str, units: int) -> TransferRequest:
    return TransferRequest(transfer_id, (Posting(debit, credit, Money("CNY", units)),))


def random_batch(
    rng: random.Random, tag: str, names: Sequence[str], most: int
) -> list[TransferRequest]:
    """1 to `most` transfers between random pairs of the named accounts."""
    legs = []
    for i in range(rng.randint(1, most)):
        debit, credit = rng.sample(names, 2)
        legs.append(move(f"{tag}.{i}", debit, credit, rng.randint(1, 99)))
    return legs


@dataclass
class Replicas:
    a: PostingPipeline
    b: PostingPipeline
    units_b: LedgerUnits
    db: asyncpg.Connection


@pytest.fixture
async def replicas(admin_url: str) -> AsyncIterator[Replicas]:
    name = f"paysuite_pipeline_{secrets.token_hex(4)}"
    url = await provision(admin_url, name, services=("ledger",))
    dsn = service_dsn(url, "ledger")
    await upgrade_to_head("ledger", "ledger", dsn, DEFINITION.versions_dir)
    pools = [await create_pool(dsn, schema="ledger", service="ledger", size=6) for _ in "ab"]
    db = await asyncpg.connect(plain_postgres_url(url))
    units_a, units_b = (LedgerUnits(p) for p in pools)
    specs = [AccountSpec(a, a, AccountType.ASSET, "CNY", OwnerType.PLATFORM) for a in ACCOUNTS] + [
        AccountSpec(
            WALLET,
            WALLET,
            AccountType.LIABILITY,
            "CNY",
            OwnerType.USER,
            debits_must_not_exceed_credits=True,
        )
    ]
    await transfers.create_accounts(units_a.postings, specs, now)
    try:
        yield Replicas(PostingPipeline(units_a, now), PostingPipeline(units_b, now), units_b, db)
    finally:
        await db.close()
        for pool in pools:
            await pool.close()
        await drop_database(admin_url, name)


async def books_balance(db: asyncpg.Connection) -> None:
    """Totals equal their entries, running balances follow entry order, and all sums to 0."""
    rows = await db.fetch(
        """
        SELECT a.account_id, a.type, a.debits_posted, a.credits_posted,
               coalesce(sum(e.amount) FILTER (WHERE e.side = 'D'), 0) AS d,
               coalesce(sum(e.amount) FILTER (WHERE e.side = 'C'), 0) AS c
        FROM ledger.accounts a LEFT JOIN ledger.entries e USING (account_id)
        GROUP BY a.account_id
        """
    )
    for row in rows:
        assert (row["debits_posted"], row["credits_posted"]) == (row["d"], row["c"]), row
    assert sum(r["debits_posted"] - r["credits_posted"] for r in rows) == 0
    entries = await db.fetch(
        "SELECT e.account_id, a.type, e.side, e.amount, e.balance_after FROM ledger.entries e "
        "JOIN ledger.accounts a USING (account_id) ORDER BY e.account_id, e.entry_id"
    )
    running: dict[str, int] = {}
    for e in entries:
        debit_normal = e["type"] in ("asset", "expense")
        signed = e["amount"] if (e["side"] == "D") == debit_normal else -e["amount"]
        running[e["account_id"]] = running.get(e["account_id"], 0) + signed
        assert e["balance_after"] == running[e["account_id"]], e


def results(outcomes: list[Outcome]) -> list[TransferResult]:
    return [o.result for o in outcomes]


async def test_batches_take_the_fast_path_while_the_prediction_holds(replicas: Replicas) -> None:
    for n in range(5):
        out = await replicas.a.run(
            [move(f"t{n}", "cash", "shop1", 100), move(f"u{n}", "shop2", "cash", 7)]
        )
        assert results(out) == [TransferResult.POSTED] * 2
    assert replicas.a.fallbacks == 0
    await books_balance(replicas.db)


async def test_another_replica_posting_sends_the_next_batch_down_the_locking_path(
    replicas: Replicas, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer(__name__)

    async def run_traced(name: str, request: TransferRequest) -> str:
        with tracer.start_as_current_span(name) as span:
            out = await replicas.a.run([request])
        assert results(out) == [TransferResult.POSTED]
        assert isinstance(span, ReadableSpan) and span.attributes is not None
        return str(span.attributes[PATH_ATTRIBUTE])

    assert await run_traced("first", move("t1", "cash", "shop1", 100)) == "predicted"
    await replicas.b.run([move("t2", "shop1", "cash", 30)])
    assert await run_traced("stale", move("t3", "cash", "shop1", 10)) == "fallback"
    assert replicas.a.fallbacks == 1
    # The prediction was read again after the fallback.
    assert await run_traced("fresh", move("t4", "cash", "shop1", 1)) == "predicted"
    assert replicas.a.fallbacks == 1
    balance = await replicas.db.fetchval(
        "SELECT debits_posted - credits_posted FROM ledger.accounts WHERE account_id = 'cash'"
    )
    assert balance == 100 - 30 + 10 + 1
    await books_balance(replicas.db)


async def test_an_account_frozen_meanwhile_refuses_the_transfer(replicas: Replicas) -> None:
    await replicas.a.run([move("t1", "cash", "shop1", 100)])
    await replicas.db.execute(
        "UPDATE ledger.accounts SET state = 'frozen' WHERE account_id = 'shop1'"
    )
    out = await replicas.a.run([move("t2", "cash", "shop1", 5), move("t3", "cash", "shop2", 5)])
    assert results(out) == [TransferResult.ACCOUNT_NOT_ACTIVE, TransferResult.POSTED]
    assert replicas.a.fallbacks == 1
    assert (
        await replicas.db.fetchval("SELECT count(*) FROM ledger.entries WHERE transfer_id = 't2'")
        == 0
    )
    await books_balance(replicas.db)


async def test_a_day_cut_meanwhile_dates_the_batch_on_the_new_day(replicas: Replicas) -> None:
    (first,) = await replicas.a.run([move("t1", "cash", "shop1", 100)])
    _, new_day = await day_cycle.day_cut(replicas.units_b, "cut-1", None, now)
    (second,) = await replicas.a.run([move("t2", "cash", "shop1", 100)])
    assert first.accounting_date is not None and new_day > first.accounting_date
    assert second.accounting_date == new_day
    assert (
        await replicas.db.fetchval(
            "SELECT accounting_date FROM ledger.entries WHERE transfer_id = 't2' LIMIT 1"
        )
        == new_day
    )


async def test_a_reused_id_in_a_later_batch_is_answered_as_a_replay(replicas: Replicas) -> None:
    await replicas.a.run([move("t1", "cash", "shop1", 100)])
    out = await replicas.a.run(
        [
            move("t1", "cash", "shop1", 100),
            move("t1b", "cash", "shop1", 1),
            move("t1", "cash", "shop2", 9),
        ]
    )
    assert results(out) == [
        TransferResult.EXISTS,
        TransferResult.POSTED,
        TransferResult.EXISTS_WITH_DIFFERENT_CONTENT,
    ]
    assert replicas.a.fallbacks == 1
    assert await replicas.db.fetchval("SELECT count(*) FROM ledger.transfers") == 2
    await books_balance(replicas.db)


async def test_a_batch_decided_on_a_failed_one_does_not_commit_its_prediction(
    replicas: Replicas,
) -> None:
    await replicas.a.run([move("seed", "cash", "shop1", 100)])
    # The first batch reuses an id with other content: its rows conflict, it goes round the
    # locking path. The second was decided on the totals the first would have left.
    first, second = await asyncio.gather(
        replicas.a.run([move("seed", "cash", "shop1", 999), move("x1", "cash", "shop1", 50)]),
        replicas.a.run([move("x2", "shop1", "cash", 20)]),
    )
    assert results(first) == [TransferResult.EXISTS_WITH_DIFFERENT_CONTENT, TransferResult.POSTED]
    assert results(second) == [TransferResult.POSTED]
    assert replicas.a.fallbacks == 2
    shop1 = await replicas.db.fetchval(
        "SELECT credits_posted - debits_posted FROM ledger.accounts WHERE account_id = 'shop1'"
    )
    assert shop1 == 100 + 50 - 20
    await books_balance(replicas.db)


async def test_two_replicas_posting_concurrently_keep_the_books(replicas: Replicas) -> None:
    await replicas.a.run([move("fund", "cash", WALLET, 1_000)])
    rng = random.Random(7)
    names = [*ACCOUNTS, WALLET]

    async def replica(pipeline: PostingPipeline, name: str) -> list[TransferResult]:
        runs = [pipeline.run(random_batch(rng, f"{name}{k}", names, 150)) for k in range(12)]
        return [r for out in await asyncio.gather(*runs) for r in results(out)]

    outcomes = [*await replica(replicas.a, "a"), *await replica(replicas.b, "b")]
    concurrent = await asyncio.gather(replica(replicas.a, "c"), replica(replicas.b, "d"))
    outcomes += [r for rs in concurrent for r in rs]
    assert set(outcomes) <= {TransferResult.POSTED, TransferResult.EXCEEDS_BALANCE}
    posted = await replicas.db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE result = 'posted'"
    )
    assert posted == outcomes.count(TransferResult.POSTED) + 1
    wallet = await replicas.db.fetchval(
        "SELECT credits_posted - debits_posted FROM ledger.accounts WHERE account_id = $1", WALLET
    )
    assert wallet >= 0
    await books_balance(replicas.db)


async def test_day_cuts_while_batches_are_in_flight_neither_hang_nor_misdate(
    replicas: Replicas,
) -> None:
    rng = random.Random(11)

    async def cuts() -> None:
        for n in range(3):
            await asyncio.sleep(0.01)
            await day_cycle.day_cut(replicas.units_b, f"cut-{n}", None, now)

    batches = [random_batch(rng, f"k{k}", ACCOUNTS, 80) for k in range(20)]
    posting = asyncio.gather(*(replicas.a.run(b) for b in batches))
    outcomes, _ = await asyncio.wait_for(asyncio.gather(posting, cuts()), timeout=60)
    assert all(o.result is TransferResult.POSTED for out in outcomes for o in out)
    misdated = await replicas.db.fetchval(
        "SELECT count(*) FROM ledger.entries e JOIN ledger.transfers t USING (transfer_id) "
        "WHERE e.accounting_date <> t.accounting_date"
    )
    assert misdated == 0
    await books_balance(replicas.db)
