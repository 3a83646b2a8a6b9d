"""Business date, day-cut under load, day-end checks and suspense parking, dual balance."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, timedelta

import grpc
import pytest
from google.type.date_pb2 import Date

from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.runtime.grpc_errors import error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from tests.integration.ledger_support import Ledger, R, account, isolated_ledger, tag, transfer


def _date(value: Date) -> date:
    return date(value.year, value.month, value.day)


def _proto(value: date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


async def _business_date(ledger: Ledger) -> date:
    answer = await ledger.stub.GetBusinessDate(pb.GetBusinessDateRequest())
    return _date(answer.business_date)


async def _cut(ledger: Ledger) -> tuple[date, date]:
    answer = await ledger.stub.RunDayCut(pb.RunDayCutRequest(request_id=secrets.token_hex(8)))
    return _date(answer.cut_date), _date(answer.business_date)


@pytest.fixture
async def ledger(admin_url: str) -> object:
    async with isolated_ledger(admin_url) as ledger:
        yield ledger


async def test_day_cut_is_idempotent_and_guarded(ledger: Ledger) -> None:
    today = await _business_date(ledger)
    request = pb.RunDayCutRequest(request_id="cut-1", expected_business_date=_proto(today))
    first = await ledger.stub.RunDayCut(request)
    again = await ledger.stub.RunDayCut(request)
    assert _date(first.business_date) == _date(again.business_date) == today + timedelta(days=1)
    stale = pb.RunDayCutRequest(request_id="cut-2", expected_business_date=_proto(today))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ledger.stub.RunDayCut(stale)
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_BUSINESS_DATE_MISMATCH
    assert await _business_date(ledger) == today + timedelta(days=1)


async def test_cut_while_posting_splits_dates_cleanly_and_day_end_balances(ledger: Ledger) -> None:
    t = tag()
    cash, shops = f"cash.{t}", [f"shop{i}.{t}" for i in range(4)]
    await ledger.accounts(account(cash, pb.ACCOUNT_TYPE_ASSET), *(account(s) for s in shops))
    first_day = await _business_date(ledger)

    async def client(n: int) -> None:
        for i in range(25):
            await ledger.post(transfer(f"p{n}.{i}.{t}", (cash, shops[n], 10 + i)))

    posting = asyncio.gather(*(client(n) for n in range(4)))
    await asyncio.sleep(0.05)
    cut, new = await _cut(ledger)
    await posting
    assert (cut, new) == (first_day, first_day + timedelta(days=1))
    dates = await ledger.db.fetch(
        "SELECT accounting_date, count(*) FROM ledger.entries GROUP BY 1 ORDER BY 1"
    )
    assert {r["accounting_date"] for r in dates} <= {cut, new}

    report = await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(cut)))
    assert report.report.balanced and not report.report.differences
    totals = {t.type: t for t in report.report.trial_balance}
    cut_day_total = await ledger.db.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM ledger.entries WHERE accounting_date = $1 "
        "AND side = 'D'",
        cut,
    )
    assert totals[pb.ACCOUNT_TYPE_ASSET].debit_turnover_minor_units == cut_day_total
    assert report.report.entries == 2 * await ledger.db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE accounting_date = $1", cut
    )

    rerun = await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(cut)))
    assert rerun.report == report.report
    stored = await ledger.stub.GetTrialBalance(
        pb.GetTrialBalanceRequest(accounting_date=_proto(cut))
    )
    assert stored.report == report.report

    cash_row = await ledger.get(cash)
    assert _date(cash_row.day_end_date) == cut
    assert cash_row.day_end_balance.minor_units == cut_day_total
    as_of = await ledger.stub.GetBalanceAsOf(
        pb.GetBalanceAsOfRequest(account_id=cash, accounting_date=_proto(cut))
    )
    assert as_of.balance.minor_units == cut_day_total

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(new)))
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_DATE_NOT_CUT


async def test_day_end_parks_a_corrupted_balance_in_suspense_once(ledger: Ledger) -> None:
    t = tag()
    cash, shop = f"cash.{t}", f"shop.{t}"
    await ledger.accounts(account(cash, pb.ACCOUNT_TYPE_ASSET), account(shop))
    assert await ledger.post(transfer(f"p.{t}", (cash, shop, 5000))) == [
        R.CREATE_TRANSFER_RESULT_POSTED
    ]
    # A bug (or a hand edit) changes the row without an entry: the books no longer agree.
    await ledger.db.execute(
        "UPDATE ledger.accounts SET credits_posted = credits_posted + 100 WHERE account_id = $1",
        shop,
    )
    cut, _ = await _cut(ledger)
    report = (await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(cut)))).report
    (difference,) = report.differences
    assert difference.check == "ACCOUNT_TOTALS_VS_ENTRIES"
    assert difference.account_id == shop
    assert difference.difference.minor_units == -100
    items = await ledger.stub.ListSuspenseItems(
        pb.ListSuspenseItemsRequest(state=pb.SuspenseItem.STATE_OPEN)
    )
    (item,) = [i for i in items.items if i.item_id == difference.suspense_item_id]
    assert item.amount.minor_units == -100
    assert (await ledger.get(shop)).balance.minor_units == 5100

    again = (await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(cut)))).report
    assert again == report
    adjustments = await ledger.db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE kind = 'adjust'"
    )
    assert adjustments == 1
    mismatched = await ledger.db.fetchval(
        """SELECT count(*) FROM ledger.accounts a LEFT JOIN (
               SELECT account_id, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS net
               FROM ledger.entries GROUP BY account_id) e USING (account_id)
           WHERE a.debits_posted - a.credits_posted <> coalesce(e.net, 0)"""
    )
    assert mismatched == 0


async def test_earlier_open_date_blocks_a_later_day_end(ledger: Ledger) -> None:
    t = tag()
    cash, shop = f"cash.{t}", f"shop.{t}"
    await ledger.accounts(account(cash, pb.ACCOUNT_TYPE_ASSET), account(shop))
    await ledger.post(transfer(f"d1.{t}", (cash, shop, 1)))
    first, _ = await _cut(ledger)
    await ledger.post(transfer(f"d2.{t}", (cash, shop, 2)))
    second, _ = await _cut(ledger)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(second)))
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_EARLIER_DATE_NOT_CLOSED
    await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(first)))
    report = (
        await ledger.stub.RunDayEnd(pb.RunDayEndRequest(accounting_date=_proto(second)))
    ).report
    asset = next(r for r in report.trial_balance if r.type == pb.ACCOUNT_TYPE_ASSET)
    assert (asset.opening_minor_units, asset.closing_minor_units) == (1, 3)
