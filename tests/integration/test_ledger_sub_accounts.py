"""A hot account split into sub-accounts: postings spread over rows, one logical account."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.runtime.grpc_errors import field_violations
from tests.integration.ledger_support import (
    Ledger,
    R,
    account,
    cny,
    isolated_ledger,
    tag,
    transfer,
)


@pytest.fixture(scope="module")
async def ledger(admin_url: str) -> object:
    async with isolated_ledger(admin_url) as ledger:
        yield ledger


def split(account_id: str, parts: int) -> pb.AccountSpec:
    spec = account(account_id, pb.ACCOUNT_TYPE_ASSET)
    spec.sub_accounts = parts
    return spec


async def test_postings_spread_over_sub_accounts_behind_one_account(ledger: Ledger) -> None:
    t = tag()
    hot, shops = f"hot.{t}", [f"shop{i}.{t}" for i in range(4)]
    await ledger.accounts(split(hot, 8), *(account(s) for s in shops))

    async def client(n: int) -> None:
        for i in range(15):
            await ledger.post(transfer(f"p{n}.{i}.{t}", (hot, shops[n], 10 + i)))

    await asyncio.gather(*(client(n) for n in range(4)))
    total = 4 * sum(10 + i for i in range(15))
    whole = await ledger.get(hot)
    assert (whole.balance.minor_units, whole.sub_accounts) == (total, 8)
    rows = await ledger.db.fetch(
        "SELECT account_id, debits_posted FROM ledger.accounts "
        "WHERE account_id = $1 OR parent_account_id = $1",
        hot,
    )
    assert len(rows) == 8 and sum(r["debits_posted"] for r in rows) == total
    assert sum(1 for r in rows if r["debits_posted"]) >= 4, "postings should spread"

    entries: list[pb.Entry] = []
    token = ""
    while True:
        page = await ledger.stub.ListAccountEntries(
            pb.ListAccountEntriesRequest(account_id=hot, page_size=25, page_token=token)
        )
        entries += page.entries
        token = page.next_page_token
        if not token:
            break
    assert len(entries) == 60 and {e.account_id for e in entries} == {hot}
    assert all(e.sub_account_id.startswith(hot) for e in entries)
    assert sum(e.amount.minor_units for e in entries) == total
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    as_of = await ledger.stub.GetBalanceAsOf(pb.GetBalanceAsOfRequest(account_id=hot, time=stamp))
    assert as_of.balance.minor_units == total
    listed = await ledger.stub.ListAccounts(pb.ListAccountsRequest(page_size=1000))
    ids = {a.account_id for a in listed.accounts}
    assert hot in ids and not any("~" in i for i in ids)
    transferred = await ledger.stub.GetTransfer(pb.GetTransferRequest(transfer_id=f"p0.0.{t}"))
    assert transferred.transfer.postings[0].debit_account_id == hot


async def test_holds_and_reversals_on_a_split_account(ledger: Ledger) -> None:
    t = tag()
    hot, shop = f"hot.{t}", f"shop.{t}"
    await ledger.accounts(split(hot, 4), account(shop))
    assert await ledger.post(transfer(f"hold.{t}", (hot, shop, 500), pending=True)) == [
        R.CREATE_TRANSFER_RESULT_PENDING
    ]
    # The first batch learns the split; send another so routing is in effect too.
    assert await ledger.post(transfer(f"hold2.{t}", (hot, shop, 300), pending=True)) == [
        R.CREATE_TRANSFER_RESULT_PENDING
    ]
    assert (await ledger.get(hot)).debits_pending.minor_units == 800
    for pending in (f"hold.{t}", f"hold2.{t}"):
        posted = await ledger.stub.PostPendingTransfer(
            pb.PostPendingTransferRequest(
                transfer_id=f"post.{pending}", pending_transfer_id=pending
            )
        )
        assert posted.result == R.CREATE_TRANSFER_RESULT_POSTED
    whole = await ledger.get(hot)
    assert (whole.debits_pending.minor_units, whole.balance.minor_units) == (0, 800)
    reversed_ = await ledger.stub.ReverseTransfer(
        pb.ReverseTransferRequest(
            transfer_id=f"rev.{t}", reversed_transfer_id=f"post.hold2.{t}", reason="TEST"
        )
    )
    assert reversed_.result == R.CREATE_TRANSFER_RESULT_POSTED
    assert (await ledger.get(hot)).balance.minor_units == 500
    assert cny(1).minor_units == 1


async def test_a_split_account_cannot_have_overdraft_flags(ledger: Ledger) -> None:
    spec = account(f"bad.{tag()}", no_overdraft=True)
    spec.sub_accounts = 4
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ledger.stub.CreateAccounts(pb.CreateAccountsRequest(accounts=[spec]))
    assert [f for f, _ in field_violations(caught.value)] == ["accounts[0].sub_accounts"]
