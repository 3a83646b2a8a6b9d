"""LedgerService against real Postgres: accounts, transfers, idempotency, concurrency."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import grpc
import pytest

from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_info, error_reason
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect

R = pb.CreateTransferResult


def cny(amount: int) -> Money:
    return Money(currency_code="CNY", minor_units=amount)


@pytest.fixture
async def ledger(ledger_addr: str) -> pb_grpc.LedgerServiceAsyncStub:
    channel = connect(ledger_addr)
    return pb_grpc.LedgerServiceStub(channel)


async def _accounts(ledger: pb_grpc.LedgerServiceAsyncStub, *specs: pb.AccountSpec) -> None:
    response = await ledger.CreateAccounts(pb.CreateAccountsRequest(accounts=list(specs)))
    assert all(r.result == pb.CREATE_ACCOUNT_RESULT_CREATED for r in response.results)


def asset(account_id: str) -> pb.AccountSpec:
    return pb.AccountSpec(
        account_id=account_id,
        name=account_id,
        type=pb.ACCOUNT_TYPE_ASSET,
        currency_code="CNY",
        owner_type=pb.OWNER_TYPE_PLATFORM,
    )


def liability(account_id: str, *, no_overdraft: bool = False) -> pb.AccountSpec:
    return pb.AccountSpec(
        account_id=account_id,
        name=account_id,
        type=pb.ACCOUNT_TYPE_LIABILITY,
        currency_code="CNY",
        owner_type=pb.OWNER_TYPE_MERCHANT,
        owner_id="M1",
        debits_must_not_exceed_credits=no_overdraft,
    )


def transfer(transfer_id: str, debit: str, credit: str, amount: int) -> pb.TransferSpec:
    return pb.TransferSpec(
        transfer_id=transfer_id,
        postings=[pb.Posting(debit_account_id=debit, credit_account_id=credit, amount=cny(amount))],
    )


async def _post(ledger: pb_grpc.LedgerServiceAsyncStub, *specs: pb.TransferSpec) -> list[int]:
    response = await ledger.CreateTransfers(pb.CreateTransfersRequest(transfers=list(specs)))
    return [r.result for r in response.results]


async def test_transfer_moves_balances_and_replays_idempotently(
    ledger: pb_grpc.LedgerServiceAsyncStub,
) -> None:
    tag = secrets.token_hex(4)
    a, b = f"a.{tag}", f"b.{tag}"
    await _accounts(ledger, asset(a), liability(b))
    assert await _post(ledger, transfer(f"t.{tag}", a, b, 1500)) == [
        R.CREATE_TRANSFER_RESULT_POSTED
    ]
    assert await _post(ledger, transfer(f"t.{tag}", a, b, 1500)) == [
        R.CREATE_TRANSFER_RESULT_EXISTS
    ]
    assert await _post(ledger, transfer(f"t.{tag}", a, b, 1600)) == [
        R.CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_CONTENT
    ]
    account_a = (await ledger.GetAccount(pb.GetAccountRequest(account_id=a))).account
    account_b = (await ledger.GetAccount(pb.GetAccountRequest(account_id=b))).account
    assert account_a.balance.minor_units == 1500
    assert account_b.balance.minor_units == 1500
    assert account_b.credits_posted.minor_units == 1500


async def test_failed_transfer_keeps_failing_even_when_it_could_now_post(
    ledger: pb_grpc.LedgerServiceAsyncStub,
) -> None:
    tag = secrets.token_hex(4)
    wallet, source = f"w.{tag}", f"s.{tag}"
    await _accounts(ledger, liability(wallet, no_overdraft=True), asset(source))
    refused = transfer(f"spend.{tag}", wallet, source, 100)
    assert await _post(ledger, refused) == [R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE]
    assert await _post(ledger, transfer(f"fund.{tag}", source, wallet, 500)) == [
        R.CREATE_TRANSFER_RESULT_POSTED
    ]
    assert await _post(ledger, refused) == [R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE]
    account = (await ledger.GetAccount(pb.GetAccountRequest(account_id=wallet))).account
    assert account.balance.minor_units == 500


async def test_result_codes_per_item(ledger: pb_grpc.LedgerServiceAsyncStub) -> None:
    tag = secrets.token_hex(4)
    a, b = f"a.{tag}", f"b.{tag}"
    usd = pb.AccountSpec(
        account_id=f"usd.{tag}",
        name="usd",
        type=pb.ACCOUNT_TYPE_ASSET,
        currency_code="USD",
        owner_type=pb.OWNER_TYPE_PLATFORM,
    )
    await _accounts(ledger, asset(a), liability(b), usd)
    results = await _post(
        ledger,
        transfer(f"ok.{tag}", a, b, 1),
        transfer(f"missing.{tag}", a, f"nope.{tag}", 1),
        transfer(f"currency.{tag}", f"usd.{tag}", b, 1),
    )
    assert results == [
        R.CREATE_TRANSFER_RESULT_POSTED,
        R.CREATE_TRANSFER_RESULT_ACCOUNT_NOT_FOUND,
        R.CREATE_TRANSFER_RESULT_CURRENCY_MISMATCH,
    ]


async def test_create_account_twice(ledger: pb_grpc.LedgerServiceAsyncStub) -> None:
    spec = asset(f"twice.{secrets.token_hex(4)}")
    await _accounts(ledger, spec)
    again = await ledger.CreateAccounts(pb.CreateAccountsRequest(accounts=[spec]))
    assert again.results[0].result == pb.CREATE_ACCOUNT_RESULT_EXISTS
    changed = pb.AccountSpec()
    changed.CopyFrom(spec)
    changed.name = "another name"
    differs = await ledger.CreateAccounts(pb.CreateAccountsRequest(accounts=[changed]))
    assert differs.results[0].result == pb.CREATE_ACCOUNT_RESULT_EXISTS_WITH_DIFFERENT_FIELDS


async def test_unknown_account_is_not_found_with_reason(
    ledger: pb_grpc.LedgerServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ledger.GetAccount(pb.GetAccountRequest(account_id="no.such.account"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    info = error_info(caught.value)
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_ACCOUNT_NOT_FOUND
    assert info is not None
    assert info.domain == "ledger.paysuite"


async def test_concurrent_transfers_on_hot_accounts_lose_nothing(
    ledger: pb_grpc.LedgerServiceAsyncStub, db: asyncpg.Connection
) -> None:
    tag = secrets.token_hex(4)
    hot = [f"hot{i}.{tag}" for i in range(2)]
    cold = [f"cold{i}.{tag}" for i in range(8)]
    wallet = f"wallet.{tag}"
    await _accounts(
        ledger,
        *(asset(a) for a in hot),
        *(liability(a) for a in cold),
        liability(wallet, no_overdraft=True),
    )
    await _post(ledger, transfer(f"seed.{tag}", hot[0], wallet, 1000))

    async def client(n: int) -> list[int]:
        results: list[int] = []
        for i in range(15):
            pair = [hot[(n + i) % 2], cold[(n * 3 + i) % 8]]
            debit, credit = pair if i % 2 else pair[::-1]
            results += await _post(ledger, transfer(f"c{n}.{i}.{tag}", debit, credit, 7))
            # Everyone also tries to drain the no-overdraft wallet.
            results += await _post(ledger, transfer(f"drain{n}.{i}.{tag}", wallet, cold[0], 90))
        return results

    outcomes = [r for rs in await asyncio.gather(*(client(n) for n in range(8))) for r in rs]
    posted_drains = await db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE transfer_id LIKE $1 AND result = 'posted'",
        f"drain%.{tag}",
    )
    assert posted_drains == 11  # 1000 // 90: exactly as many as the balance allows
    assert outcomes.count(R.CREATE_TRANSFER_RESULT_EXCEEDS_BALANCE) == 8 * 15 - 11
    rows = await db.fetch(
        """
        SELECT a.account_id, a.debits_posted, a.credits_posted,
               coalesce(sum(e.amount) FILTER (WHERE e.side = 'D'), 0) AS d,
               coalesce(sum(e.amount) FILTER (WHERE e.side = 'C'), 0) AS c
        FROM ledger.accounts a LEFT JOIN ledger.entries e USING (account_id)
        WHERE a.account_id LIKE $1 GROUP BY a.account_id
        """,
        f"%.{tag}",
    )
    for row in rows:
        assert (row["debits_posted"], row["credits_posted"]) == (row["d"], row["c"])
    assert sum(r["debits_posted"] - r["credits_posted"] for r in rows) == 0
    wallet_row = next(r for r in rows if r["account_id"] == wallet)
    assert wallet_row["credits_posted"] - wallet_row["debits_posted"] == 1000 - 11 * 90
