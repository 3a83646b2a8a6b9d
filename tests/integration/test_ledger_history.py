"""Account history with running balances, balances as of a time, and the resumable entry feed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from paysuite.ledger.v1 import ledger_service_pb2 as pb
from tests.integration.ledger_support import Ledger, account, isolated_ledger, tag, transfer
from tests.integration.paging_support import refused_page_token


async def test_history_pages_with_running_balance_and_balance_as_of_time(admin_url: str) -> None:
    async with isolated_ledger(admin_url) as ledger:
        t = tag()
        cash, shop = f"cash.{t}", f"shop.{t}"
        await ledger.accounts(account(cash, pb.ACCOUNT_TYPE_ASSET), account(shop))
        amounts = [100, 250, 75, 300, 10]
        marks: list[datetime] = []
        for i, amount in enumerate(amounts):
            await ledger.post(transfer(f"p{i}.{t}", (cash, shop, amount)))
            marks.append(datetime.now(UTC))
            await asyncio.sleep(0.01)
        seen: list[pb.Entry] = []
        token = ""
        while True:
            page = await ledger.stub.ListAccountEntries(
                pb.ListAccountEntriesRequest(account_id=shop, page_size=2, page_token=token)
            )
            seen += page.entries
            token = page.next_page_token
            if not token:
                break
        first = await ledger.stub.ListAccountEntries(
            pb.ListAccountEntriesRequest(account_id=shop, page_size=2)
        )
        elsewhere = pb.ListAccountEntriesRequest(account_id=cash, page_token=first.next_page_token)
        assert "filters differ" in await refused_page_token(
            ledger.stub.ListAccountEntries(elsewhere)
        )
        running = [sum(amounts[: i + 1]) for i in range(len(amounts))]
        assert [e.balance_after.minor_units for e in seen] == running
        assert [e.amount.minor_units for e in seen] == amounts
        assert all(e.side == pb.ENTRY_SIDE_CREDIT for e in seen)
        stamp = Timestamp()
        stamp.FromDatetime(marks[2])
        as_of = await ledger.stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(account_id=shop, time=stamp)
        )
        assert as_of.balance.minor_units == running[2]


async def _collect(
    ledger: Ledger, after: str, account_id: str, count: int
) -> list[pb.WatchEntriesResponse]:
    call = ledger.stub.WatchEntries(
        pb.WatchEntriesRequest(after_position=after, account_id=account_id)
    )
    got: list[pb.WatchEntriesResponse] = []
    try:
        async with asyncio.timeout(10):
            async for response in call:
                got.append(response)
                if len(got) == count:
                    break
    finally:
        call.cancel()
    return got


async def test_entry_feed_resumes_from_a_position_without_gaps(admin_url: str) -> None:
    async with isolated_ledger(admin_url) as ledger:
        t = tag()
        cash, shop = f"cash.{t}", f"shop.{t}"
        await ledger.accounts(account(cash, pb.ACCOUNT_TYPE_ASSET), account(shop))
        for i in range(3):
            await ledger.post(transfer(f"a{i}.{t}", (cash, shop, i + 1)))
        first = await _collect(ledger, "", shop, 3)
        assert [r.entry.amount.minor_units for r in first] == [1, 2, 3]

        async def later() -> None:
            await asyncio.sleep(0.2)
            await asyncio.gather(
                *(ledger.post(transfer(f"b{i}.{t}", (cash, shop, 10 + i))) for i in range(5))
            )

        poster = asyncio.create_task(later())
        rest = await _collect(ledger, first[-1].position, shop, 5)
        await poster
        assert sorted(r.entry.amount.minor_units for r in rest) == [10, 11, 12, 13, 14]
        everything = await _collect(ledger, "", "", 16)
        ids = [r.entry.entry_id for r in everything]
        assert len(set(ids)) == 16
