"""Two-phase transfers, expiry, reversal and suspense against a real ledger."""

from __future__ import annotations

import asyncio

import pytest

from paysuite.ledger.v1 import ledger_service_pb2 as pb
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


async def _funded_wallet(ledger: Ledger, amount: int) -> tuple[str, str, str]:
    t = tag()
    wallet, cash, shop = f"wallet.{t}", f"cash.{t}", f"shop.{t}"
    await ledger.accounts(
        account(wallet, no_overdraft=True), account(cash, pb.ACCOUNT_TYPE_ASSET), account(shop)
    )
    assert await ledger.post(transfer(f"fund.{t}", (cash, wallet, amount))) == [
        R.CREATE_TRANSFER_RESULT_POSTED
    ]
    return wallet, cash, shop


async def test_hold_reduces_available_and_partial_post_releases_the_rest(ledger: Ledger) -> None:
    wallet, _, shop = await _funded_wallet(ledger, 1000)
    t = tag()
    assert await ledger.post(transfer(f"hold.{t}", (wallet, shop, 600), pending=True)) == [
        R.CREATE_TRANSFER_RESULT_PENDING
    ]
    held = await ledger.get(wallet)
    assert (held.balance.minor_units, held.available_balance.minor_units) == (1000, 400)
    assert await ledger.post(transfer(f"more.{t}", (wallet, shop, 500))) == [
        R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE
    ]
    posted = await ledger.stub.PostPendingTransfer(
        pb.PostPendingTransferRequest(
            transfer_id=f"post.{t}", pending_transfer_id=f"hold.{t}", amount=cny(450)
        )
    )
    assert posted.result == R.CREATE_TRANSFER_RESULT_POSTED
    after = await ledger.get(wallet)
    assert (after.balance.minor_units, after.available_balance.minor_units) == (550, 550)
    assert after.debits_pending.minor_units == 0
    again = await ledger.stub.VoidPendingTransfer(
        pb.VoidPendingTransferRequest(transfer_id=f"void.{t}", pending_transfer_id=f"hold.{t}")
    )
    assert again.result == R.CREATE_TRANSFER_RESULT_ALREADY_POSTED
    replay = await ledger.stub.PostPendingTransfer(
        pb.PostPendingTransferRequest(
            transfer_id=f"post.{t}", pending_transfer_id=f"hold.{t}", amount=cny(450)
        )
    )
    assert replay.result == R.CREATE_TRANSFER_RESULT_EXISTS
    assert await ledger.balance(wallet) == 550


async def test_void_releases_the_hold(ledger: Ledger) -> None:
    wallet, _, shop = await _funded_wallet(ledger, 300)
    t = tag()
    await ledger.post(transfer(f"hold.{t}", (wallet, shop, 300), pending=True))
    voided = await ledger.stub.VoidPendingTransfer(
        pb.VoidPendingTransferRequest(transfer_id=f"void.{t}", pending_transfer_id=f"hold.{t}")
    )
    assert voided.result == R.CREATE_TRANSFER_RESULT_POSTED
    assert (await ledger.get(wallet)).available_balance.minor_units == 300
    late = await ledger.stub.PostPendingTransfer(
        pb.PostPendingTransferRequest(transfer_id=f"post.{t}", pending_transfer_id=f"hold.{t}")
    )
    assert late.result == R.CREATE_TRANSFER_RESULT_ALREADY_VOIDED
    too_much = await ledger.stub.PostPendingTransfer(
        pb.PostPendingTransferRequest(transfer_id=f"post2.{t}", pending_transfer_id=f"nope.{t}")
    )
    assert too_much.result == R.CREATE_TRANSFER_RESULT_TRANSFER_NOT_FOUND


async def test_hold_expires_by_itself(ledger: Ledger) -> None:
    wallet, _, shop = await _funded_wallet(ledger, 200)
    t = tag()
    await ledger.post(transfer(f"hold.{t}", (wallet, shop, 200), pending=True, timeout=1))
    assert (await ledger.get(wallet)).available_balance.minor_units == 0
    for _ in range(50):
        await asyncio.sleep(0.1)
        if (await ledger.get(wallet)).available_balance.minor_units == 200:
            break
    assert (await ledger.get(wallet)).available_balance.minor_units == 200
    state = await ledger.stub.GetTransfer(pb.GetTransferRequest(transfer_id=f"hold.{t}"))
    assert state.transfer.state == pb.Transfer.STATE_VOIDED
    late = await ledger.stub.PostPendingTransfer(
        pb.PostPendingTransferRequest(transfer_id=f"post.{t}", pending_transfer_id=f"hold.{t}")
    )
    assert late.result == R.CREATE_TRANSFER_RESULT_ALREADY_VOIDED


async def test_reversal_is_linked_and_happens_at_most_once(ledger: Ledger) -> None:
    wallet, cash, shop = await _funded_wallet(ledger, 900)
    t = tag()
    await ledger.post(transfer(f"pay.{t}", (wallet, shop, 400)))
    first = await ledger.stub.ReverseTransfer(
        pb.ReverseTransferRequest(
            transfer_id=f"rev.{t}", reversed_transfer_id=f"pay.{t}", reason="POS_REVERSAL"
        )
    )
    assert first.result == R.CREATE_TRANSFER_RESULT_POSTED
    assert await ledger.balance(wallet) == 900
    assert await ledger.balance(shop) == 0
    retry = await ledger.stub.ReverseTransfer(
        pb.ReverseTransferRequest(
            transfer_id=f"rev.{t}", reversed_transfer_id=f"pay.{t}", reason="POS_REVERSAL"
        )
    )
    assert retry.result == R.CREATE_TRANSFER_RESULT_EXISTS
    second = await ledger.stub.ReverseTransfer(
        pb.ReverseTransferRequest(
            transfer_id=f"rev2.{t}", reversed_transfer_id=f"pay.{t}", reason="POS_REVERSAL"
        )
    )
    assert second.result == R.CREATE_TRANSFER_RESULT_ALREADY_REVERSED
    of_reversal = await ledger.stub.ReverseTransfer(
        pb.ReverseTransferRequest(
            transfer_id=f"rev3.{t}", reversed_transfer_id=f"rev.{t}", reason="OOPS"
        )
    )
    assert of_reversal.result == R.CREATE_TRANSFER_RESULT_NOT_REVERSIBLE
    original = (
        await ledger.stub.GetTransfer(pb.GetTransferRequest(transfer_id=f"pay.{t}"))
    ).transfer
    assert original.reversed_by_transfer_id == f"rev.{t}"
    # The reversal mirrored the payment once; the refused ones moved nothing, cash not at all.
    assert [await ledger.balance(a) for a in (wallet, cash, shop)] == [900, 900, 0]
    entries = await ledger.db.fetch(
        "SELECT transfer_id, account_id, side, amount FROM ledger.entries "
        "WHERE transfer_id = ANY($1::text[]) ORDER BY entry_id",
        [f"{name}.{t}" for name in ("pay", "rev", "rev2", "rev3")],
    )
    assert [tuple(e) for e in entries] == [
        (f"pay.{t}", wallet, "D", 400),
        (f"pay.{t}", shop, "C", 400),
        (f"rev.{t}", shop, "D", 400),
        (f"rev.{t}", wallet, "C", 400),
    ]


async def test_concurrent_reversals_post_exactly_one(ledger: Ledger) -> None:
    wallet, _, shop = await _funded_wallet(ledger, 500)
    t = tag()
    await ledger.post(transfer(f"pay.{t}", (wallet, shop, 500)))
    answers = await asyncio.gather(
        *(
            ledger.stub.ReverseTransfer(
                pb.ReverseTransferRequest(
                    transfer_id=f"rev{i}.{t}", reversed_transfer_id=f"pay.{t}", reason="DUP"
                )
            )
            for i in range(6)
        )
    )
    results = sorted(a.result for a in answers)
    assert results.count(R.CREATE_TRANSFER_RESULT_POSTED) == 1
    assert results.count(R.CREATE_TRANSFER_RESULT_ALREADY_REVERSED) == 5
    assert await ledger.balance(shop) == 0


async def test_money_parked_in_suspense_is_cleared_by_business_action(ledger: Ledger) -> None:
    t = tag()
    suspense, channel, shop = f"susp.{t}", f"chan.{t}", f"shop.{t}"
    await ledger.accounts(
        account(suspense, suspense=True), account(channel, pb.ACCOUNT_TYPE_ASSET), account(shop)
    )
    await ledger.post(transfer(f"long.{t}", (channel, suspense, 777)))
    items = await ledger.stub.ListSuspenseItems(
        pb.ListSuspenseItemsRequest(state=pb.SuspenseItem.STATE_OPEN, page_size=1000)
    )
    (item,) = [i for i in items.items if i.suspense_account_id == suspense]
    assert item.amount.minor_units == 777
    cleared = await ledger.stub.ClearSuspenseItem(
        pb.ClearSuspenseItemRequest(
            transfer_id=f"clear.{t}",
            item_id=item.item_id,
            counter_account_id=shop,
            reason="SUPPLEMENTARY_ORDER",
            business_reference=f"order-{t}",
        )
    )
    assert cleared.result == R.CREATE_TRANSFER_RESULT_POSTED
    assert cleared.item.state == pb.SuspenseItem.STATE_CLEARED
    assert cleared.item.business_reference == f"order-{t}"
    assert await ledger.balance(suspense) == 0
    assert await ledger.balance(shop) == 777
    twice = await ledger.stub.ClearSuspenseItem(
        pb.ClearSuspenseItemRequest(
            transfer_id=f"clear2.{t}",
            item_id=item.item_id,
            counter_account_id=shop,
            reason="SUPPLEMENTARY_ORDER",
            business_reference=f"order-{t}",
        )
    )
    assert twice.result == R.CREATE_TRANSFER_RESULT_ALREADY_CLEARED
    assert await ledger.balance(shop) == 777


async def test_credit_line_lets_the_balance_go_negative_up_to_the_limit(ledger: Ledger) -> None:
    t = tag()
    line, shop = f"line.{t}", f"shop.{t}"
    await ledger.accounts(account(line, no_overdraft=True, overdraft_limit=1000), account(shop))
    assert await ledger.post(transfer(f"a.{t}", (line, shop, 999))) == [
        R.CREATE_TRANSFER_RESULT_POSTED
    ]
    assert await ledger.post(transfer(f"b.{t}", (line, shop, 2))) == [
        R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE
    ]
    assert await ledger.post(transfer(f"c.{t}", (line, shop, 1))) == [
        R.CREATE_TRANSFER_RESULT_POSTED
    ]
    assert await ledger.balance(line) == -1000
