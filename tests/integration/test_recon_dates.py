"""Reconciliation across the three dates, against real services: the channel's bill date, the
gateway's accounting date and the ledger's business date (moved by a real RunDayCut).

A payment of the gateway's date D that the ledger booked on business date D+1 matches its
line of D's bill, and D+1's run does not report its entry again; an entry of business date D
that belongs to D+1 (posted after midnight, before a late cut) is handed on to D+1 and matched
there; a payment near the cut that D's bill lacks and D+1's bill lists is carried (through
recon's storage) and matched on D+1, once; and re-running a date gives the same result."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

import asyncpg
import pytest
from google.type.date_pb2 import Date

from ledger import bootstrap as ledger_bootstrap
from paysuite.clock import utc_now
from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect, outbox_drained
from tests.integration.conftest import serving
from tests.integration.ledger_support import Ledger, isolated_ledger
from tests.integration.test_recon_matching import (
    HEADER,
    SHANGHAI,
    _date,
    _discrepancies,
    _import,
    _pay,
    _records,
    _run,
    card_user,  # noqa: F401 - the fixture
    gateway,  # noqa: F401 - the fixture, on this module's channel
    line,
)

MATCHED = rpb.MATCH_OUTCOME_MATCHED
CARRIED = rpb.MATCH_OUTCOME_CARRIED


@pytest.fixture
def channel() -> str:
    return f"rd{secrets.token_hex(3)}"


def _day(value: Date) -> date:
    return date(value.year, value.month, value.day)


def _counts(run: rpb.ReconciliationRun) -> dict[int, int]:
    return {c.outcome: c.count for c in run.outcome_counts}


async def _stamp(db: asyncpg.Connection, payment: gpb.Payment, day: date, at: time) -> None:
    """The payment as the gateway would have taken it at `at` (Shanghai) on `day`."""
    await db.execute(
        "UPDATE gateway.payments SET accounting_date = $2, created_at = $3 WHERE payment_id = $1",
        payment.payment_id,
        day,
        datetime.combine(day, at, SHANGHAI),
    )


class LedgerClock:
    """The test ledger's clock: the real time, or the instant set."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or utc_now()


async def _book(
    suite_ledger: lpb_grpc.LedgerServiceAsyncStub,
    books: Ledger,
    payment: gpb.Payment,
    clock: LedgerClock,
    posted_at: datetime | None = None,
) -> None:
    """The payment's capture, as the gateway posted it to the suite's ledger, posted to the
    test's own ledger (its accounts opened as they are there); posted_at: when the ledger
    takes it, if not now."""
    transfer_id = f"{payment.payment_id}:capture"
    found = await suite_ledger.GetTransfer(lpb.GetTransferRequest(transfer_id=transfer_id))
    postings = list(found.transfer.postings)
    for account_id in sorted(
        {a for p in postings for a in (p.debit_account_id, p.credit_account_id)}
    ):
        there = (
            await suite_ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
        ).account
        spec = lpb.AccountSpec(
            account_id=account_id,
            name=account_id,
            type=there.type,
            currency_code="CNY",
            owner_type=there.owner_type,
            owner_id=there.owner_id,
        )
        await books.stub.CreateAccounts(lpb.CreateAccountsRequest(accounts=[spec]))
    clock.at = posted_at
    try:
        posted = await books.stub.CreateTransfers(
            lpb.CreateTransfersRequest(
                transfers=[lpb.TransferSpec(transfer_id=transfer_id, postings=postings)]
            )
        )
    finally:
        clock.at = None
    assert posted.results[0].result == lpb.CREATE_TRANSFER_RESULT_POSTED


def _bill(*records: cpb.ChannelRecord) -> str:
    return "\n".join([HEADER, *(line(r) for r in records)]) + "\n"


async def test_a_payment_the_ledger_booked_on_the_next_business_date_matches_its_bill_line(
    gateway: str,  # noqa: F811 - the fixture
    channel: str,
    admin_url: str,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    clock = LedgerClock()
    monkeypatch.setattr(ledger_bootstrap, "utc_now", clock)  # the test's ledger only
    async with isolated_ledger(admin_url) as books:
        monkeypatch.undo()
        settings = ReconSettings(gateway_addr=gateway, ledger_addr=books.addr, ranges=4)
        async with serving(build_recon, settings) as recon_addr:
            await _across_a_real_day_cut(
                gateway, channel, books, clock, recon_addr, ledger_stub, db, card_user
            )


async def _across_a_real_day_cut(
    gateway: str,  # noqa: F811 - the fixture
    channel: str,
    books: Ledger,
    clock: LedgerClock,
    recon_addr: str,
    suite_ledger: lpb_grpc.LedgerServiceAsyncStub,
    db: asyncpg.Connection,
    payer: str,
) -> None:
    day = _day((await books.stub.GetBusinessDate(lpb.GetBusinessDateRequest())).business_date)
    following = day + timedelta(days=1)
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        late, early, after_midnight, next_noon = [
            await _pay(stub, 2000 + n, payer) for n in range(4)
        ]
    assert await outbox_drained(db)
    # The gateway's accounting dates: `late` at 23:59:59 and `early` at 10:00 of the day,
    # `after_midnight` at 00:30 and `next_noon` at 12:00 of the next.
    await _stamp(db, late, day, time(23, 59, 59))
    await _stamp(db, early, day, time(10))
    await _stamp(db, after_midnight, following, time(0, 30))
    await _stamp(db, next_noon, following, time(12))

    # The ledger's business date: it cuts late (after 00:30), so `after_midnight` is booked on
    # the day; `late`'s capture reached it after the cut, on the next business date.
    await _book(suite_ledger, books, early, clock)
    after_the_day = datetime.combine(following, time(0, 30, 2), SHANGHAI)
    await _book(suite_ledger, books, after_midnight, clock, after_the_day)
    cut = await books.stub.RunDayCut(
        lpb.RunDayCutRequest(request_id=secrets.token_hex(8), expected_business_date=_date(day))
    )
    assert (_day(cut.cut_date), _day(cut.business_date)) == (day, following)
    await _book(suite_ledger, books, late, clock)
    await _book(suite_ledger, books, next_noon, clock)
    receivable = f"channel.{channel}.receivable.CNY"
    booked = {
        r["transfer_id"].split(":")[0]: r["accounting_date"]
        for r in await books.db.fetch(
            "SELECT DISTINCT transfer_id, accounting_date FROM ledger.entries "
            "WHERE account_id = $1",
            receivable,
        )
    }
    assert booked == {
        early.payment_id: day,
        after_midnight.payment_id: day,
        late.payment_id: following,
        next_noon.payment_id: following,
    }

    ours = {r.payment_id: r for r in await _records(gateway, channel, day)}
    theirs = {r.payment_id: r for r in await _records(gateway, channel, following)}
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        await _import(recon, channel, day, _bill(ours[late.payment_id], ours[early.payment_id]))
        await _import(
            recon,
            channel,
            following,
            _bill(theirs[after_midnight.payment_id], theirs[next_noon.payment_id]),
        )

        first = await _run(recon, channel, day)
        # `late` matched with its entry of the next business date; `after_midnight`'s entry
        # handed on to the next date; no ledger mismatch.
        assert _counts(first) == {MATCHED: 2, CARRIED: 1}
        assert (first.discrepancies, first.ledger_records) == (0, 2)
        again = await _run(recon, channel, day)
        assert _counts(again) == _counts(first)
        assert (again.discrepancies, again.ledger_records) == (0, 2)

        second = await _run(recon, channel, following)
        # `late`'s entry is not the next date's again; `after_midnight` meets its entry there.
        assert _counts(second) == {MATCHED: 2}
        assert (second.discrepancies, second.ledger_records, second.carried_in) == (0, 1, 1)
        assert await _discrepancies(recon, channel) == {}
        assert _counts(await _run(recon, channel, day)) == _counts(first)


async def test_a_payment_near_the_cut_missing_from_its_bill_is_carried_and_matched_once(
    gateway: str,  # noqa: F811 - the fixture
    channel: str,
    recon_addr: str,
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        near, plain = await _pay(stub, 3100, card_user), await _pay(stub, 3200, card_user)
    assert await outbox_drained(db)
    day = await db.fetchval("SELECT business_date FROM ledger.ledger_state")
    following = day + timedelta(days=1)
    await _stamp(db, near, day, time(23, 59, 30))
    await _stamp(db, plain, day, time(9))
    ours = {r.payment_id: r for r in await _records(gateway, channel, day)}
    carried_rows = (
        "SELECT from_date, detail->>'outcome' AS outcome, detail->>'key' AS key "
        "FROM recon.carried_items WHERE channel = $1 ORDER BY from_date, seq"
    )
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        # The channel's bill of the day lacks `near` (its day ended before the payment came
        # in); the next day's lists it.
        await _import(recon, channel, day, _bill(ours[plain.payment_id]))
        await _import(recon, channel, following, _bill(ours[near.payment_id]))

        first = await _run(recon, channel, day)
        assert _counts(first) == {MATCHED: 1, CARRIED: 1}
        assert first.discrepancies == 0
        stored = [tuple(r) for r in await db.fetch(carried_rows, channel)]
        assert stored == [(day, "carried", near.payment_id)]
        again = await _run(recon, channel, day)
        assert (_counts(again), again.discrepancies) == (_counts(first), 0)
        assert [tuple(r) for r in await db.fetch(carried_rows, channel)] == stored

        second = await _run(recon, channel, following)
        assert _counts(second) == {MATCHED: 1}
        assert (second.carried_in, second.our_records, second.discrepancies) == (2, 0, 0)
        assert await _discrepancies(recon, channel) == {}
        # The day run once more, after the next: the same, and still nothing reported.
        third = await _run(recon, channel, day)
        assert (_counts(third), third.discrepancies) == (_counts(first), 0)
        assert [tuple(r) for r in await db.fetch(carried_rows, channel)] == stored
        assert await _discrepancies(recon, channel) == {}
