"""Channel funds arriving in the reserve (备付金) account, against real services: card payments
through the gateway on bank channels of the test's own, each channel's settlement paid into the
bank simulator's reserve account (in full, short, late, never), the account's camt.053 fetched
from the bank signed and imported, and FundsService reconciling it with the ledger: receivables
cleared into the reserve account, differences parked in suspense, the ledger's reserve balance
equal to the bank's closing balance, and nothing posted twice."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import grpc
import pytest
from google.type.date_pb2 import Date

from devstack import demo
from paysuite.dev_secrets import DEV_BANK_SECRET
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import funds_service_pb2 as fpb
from paysuite.recon.v1 import funds_service_pb2_grpc as fpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.type.v1.money_pb2 import Money
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect, outbox_drained
from tests.integration.conftest import Replica, bank_channel, serving
from tests.integration.payout_support import bank_payouts, card_payer, ledger_transfers
from tests.integration.test_channelsim_http import Bank
from tests.integration.test_gateway_payouts import (  # noqa: F401 (merchant: a fixture)
    PAID,
    merchant,
    payout_request,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCOUNT = "6216600000000001688"
STATEMENTS = f"rsv{secrets.token_hex(3)}"
# The test's bank channels: paid in full, short-paid, late, never.
FULL, SHORT, LATE = (f"rv{secrets.token_hex(3)}" for _ in range(3))


def _date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


# Which of the test's channels takes a card payment: by its amount.
AMOUNTS = {FULL: (10_000, 19_999), SHORT: (8_000, 8_999), LATE: (5_000, 5_999)}


@pytest.fixture
async def gateway(replica: Replica, bank_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A gateway replica with the test's bank channels, each taking card payments of its range
    of amounts."""
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "name": f"reserve-{channel}",
                        "methods": ["bank_card"],
                        "min_amount": low,
                        "max_amount": high,
                        "split": {channel: 1},
                    }
                    for channel, (low, high) in AMOUNTS.items()
                ]
            }
        )
    )
    channels = {name: bank_channel(bank_url) for name in AMOUNTS}
    async with replica(extra_channels=channels, channel_rules_file=rules) as addr:
        yield addr


@pytest.fixture
async def funds(gateway_addr: str, ledger_addr: str) -> AsyncIterator[str]:
    """A recon whose reserve account statements are imported under the test's own name, with
    the test's channels settling on the business date itself (lag 0)."""
    settings = ReconSettings(
        gateway_addr=gateway_addr,
        ledger_addr=ledger_addr,
        ranges=4,
        reserve_statement_channel=STATEMENTS,
        reserve_settlement_days={FULL: 0, SHORT: 0, LATE: 0},
    )
    async with serving(build_recon, settings) as addr:
        yield addr


@pytest.fixture
async def bank(bank_url: str) -> AsyncIterator[Bank]:
    async with aiohttp.ClientSession() as session:
        yield Bank(session, bank_url)


@pytest.fixture
async def card_user(identity_addr: str, bank_url: str) -> str:
    """A real-named payer with a bound card of the test's own: the demo user's daily limits
    are spent by the tests before this one in a full run."""
    return await card_payer(identity_addr, bank_url)


async def _pay(gateway: str, channel: str, amounts: list[int], payer: str) -> None:
    """The payer's card payments of the amounts, which the rules send to the channel."""
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        for amount in amounts:
            answer = await stub.CreatePayment(
                gpb.CreatePaymentRequest(
                    request_id=f"rv-{secrets.token_hex(8)}",
                    merchant_id=demo.MERCHANT_ID,
                    merchant_order_no=f"RV-{secrets.token_hex(6)}",
                    amount=Money(currency_code="CNY", minor_units=amount),
                    method=gpb.PAYMENT_METHOD_BANK_CARD,
                    payer_user_id=payer,
                )
            )
            assert answer.payment.state == gpb.Payment.STATE_SUCCEEDED
            assert answer.payment.channel == channel


async def _balance(ledger: lpb_grpc.LedgerServiceAsyncStub, account_id: str) -> int:
    answer = await ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
    return int(answer.account.balance.minor_units)


async def _open_items(ledger: lpb_grpc.LedgerServiceAsyncStub, prefix: str) -> list[int]:
    """The amounts of the open suspense items parked by transfers whose ids start so."""
    found, token = [], ""
    while True:
        page = await ledger.ListSuspenseItems(
            lpb.ListSuspenseItemsRequest(
                state=lpb.SuspenseItem.STATE_OPEN, page_size=1000, page_token=token
            )
        )
        found += [i.amount.minor_units for i in page.items if i.transfer_id.startswith(prefix)]
        token = page.next_page_token
        if not token:
            return found


async def _business_date(ledger: lpb_grpc.LedgerServiceAsyncStub) -> date:
    d = (await ledger.GetBusinessDate(lpb.GetBusinessDateRequest())).business_date
    return date(d.year, d.month, d.day)


async def _pay_in(bank: Bank, channel: str, day: date, amount: int) -> dict[str, Any]:
    reply = await bank.admin(
        "POST",
        "/_admin/reserve/settlements",
        {"channel": channel, "business_date": day.isoformat(), "amount": amount},
    )
    assert reply.status in (200, 201), reply.body
    answer: dict[str, Any] = reply.json()
    return answer


async def _reconcile(funds: str, bank: Bank, day: date) -> fpb.ReconcileReserveAccountResponse:
    """Fetches the reserve account's statement of the day from the bank, imports it and
    reconciles it."""
    reply = await bank.call(
        "GET", f"/api/accounts/{ACCOUNT}/statements/{day.isoformat()}", secret=DEV_BANK_SECRET
    )
    assert reply.status == 200, reply.body

    async def upload() -> AsyncIterator[rpb.ImportStatementRequest]:
        yield rpb.ImportStatementRequest(
            upload=rpb.StatementUpload(
                channel=STATEMENTS, format=rpb.STATEMENT_FORMAT_CAMT053, statement_date=_date(day)
            )
        )
        yield rpb.ImportStatementRequest(chunk=reply.body)

    async with connect(funds) as conn:
        imported = await rpb_grpc.ReconServiceStub(conn).ImportStatement(upload())
        assert imported.statement_import.balances_consistent
        return await fpb_grpc.FundsServiceStub(conn).ReconcileReserveAccount(
            fpb.ReconcileReserveAccountRequest(statement_date=_date(day))
        )


def _ours(
    result: fpb.ReconcileReserveAccountResponse, channel: str
) -> list[tuple[int, int, int, int]]:
    return [
        (d.kind, d.expected.minor_units, d.actual.minor_units, d.parked.minor_units)
        for d in result.differences
        if d.channel == channel
    ]


async def test_settlements_clear_receivables_into_the_reserve_account_once_and_it_balances(
    gateway: str,
    funds: str,
    bank: Bank,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    db: asyncpg.Connection,
    card_user: str,
) -> None:
    await _pay(gateway, FULL, [10_000, 12_345], card_user)
    await _pay(gateway, SHORT, [8_000], card_user)
    await _pay(gateway, LATE, [5_000], card_user)
    assert await outbox_drained(db)
    business_date = await _business_date(ledger_stub)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    owed = {c: await _balance(ledger_stub, f"channel.{c}.receivable.CNY") for c in AMOUNTS}
    assert all(amount > 0 for amount in owed.values())

    await _pay_in(bank, FULL, business_date, owed[FULL])
    await bank.set_faults(reserve_short_rate=1.0, reserve_short_fen=150)
    try:
        short = await _pay_in(bank, SHORT, business_date, owed[SHORT])
    finally:
        await bank.set_faults(reserve_short_rate=0.0)
    assert short["paid"] == owed[SHORT] - 150
    first = await _reconcile(funds, bank, today)
    reserve_after_first = await _balance(ledger_stub, "platform.reserve.CNY")
    again = await _reconcile(funds, bank, today)

    # Paid in full: cleared; short: cleared by what came, the rest parked; late: all parked.
    assert _ours(first, FULL) == []
    assert _ours(first, SHORT) == [
        (fpb.FUNDS_DIFFERENCE_KIND_SHORT, owed[SHORT], owed[SHORT] - 150, 150)
    ]
    assert _ours(first, LATE) == [(fpb.FUNDS_DIFFERENCE_KIND_MISSING, owed[LATE], 0, owed[LATE])]
    for channel in (FULL, SHORT, LATE):
        assert await _balance(ledger_stub, f"channel.{channel}.receivable.CNY") == 0
    assert await _balance(ledger_stub, f"channel.{SHORT}.suspense.CNY") == -150
    assert await _balance(ledger_stub, f"channel.{LATE}.suspense.CNY") == -owed[LATE]
    assert await _open_items(ledger_stub, f"funds:park:{LATE}:") == [-owed[LATE]]
    assert await _open_items(ledger_stub, f"funds:park:{SHORT}:") == [-150]
    # The ledger's reserve account is the bank's, to the fen; the short arrival is flagged.
    (check,) = first.balances
    assert check.balanced and first.balanced
    assert check.ledger_balance.minor_units == check.bank_closing_balance.minor_units
    assert first.short >= 1 and first.missing >= 1 and not first.clean
    assert first.posted > 0
    # Run again: the same answer, nothing posted.
    assert again.posted == 0
    assert (again.short, again.missing, again.balanced) == (first.short, first.missing, True)
    assert await _balance(ledger_stub, "platform.reserve.CNY") == reserve_after_first

    # The late channel's money arrives after all: moved out of suspense, once.
    await _pay_in(bank, LATE, business_date, owed[LATE])
    late = await _reconcile(funds, bank, today)
    once_more = await _reconcile(funds, bank, today)

    assert _ours(late, LATE) == []
    assert await _balance(ledger_stub, f"channel.{LATE}.suspense.CNY") == 0
    assert await _balance(ledger_stub, f"channel.{LATE}.receivable.CNY") == 0
    assert late.balanced and late.posted == 2  # the arrival, and its suspense item cleared
    assert await _open_items(ledger_stub, f"funds:park:{LATE}:") == []
    assert once_more.posted == 0 and once_more.balanced
    assert (
        await _balance(ledger_stub, "platform.reserve.CNY")
        == reserve_after_first + owed[LATE]
        == late.balances[0].bank_closing_balance.minor_units
    )


async def test_money_nobody_explains_is_parked_and_a_date_never_imported_is_fetched(
    funds: str, bank: Bank, ledger_stub: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    stranger = f"zz{secrets.token_hex(3)}"
    await _pay_in(bank, stranger, today, 4_321)
    suspense_before = await _balance(ledger_stub, "platform.reserve_suspense.CNY")

    result = await _reconcile(funds, bank, today)

    assert [
        (d.kind, d.actual.minor_units, d.parked.minor_units)
        for d in result.differences
        if d.channel == stranger
    ] == [(fpb.FUNDS_DIFFERENCE_KIND_UNEXPECTED, 4_321, 4_321)]
    assert result.balanced
    assert await _balance(ledger_stub, "platform.reserve_suspense.CNY") == suspense_before + 4_321
    async with connect(funds) as conn:
        stub = fpb_grpc.FundsServiceStub(conn)
        # A date nothing was imported for: its statement is fetched from the bank through the
        # gateway (the bank's, with nothing on it that long ago).
        fetched = await stub.ReconcileReserveAccount(
            fpb.ReconcileReserveAccountRequest(statement_date=_date(date(2001, 1, 1)))
        )
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.ReconcileReserveAccount(
                fpb.ReconcileReserveAccountRequest(statement_date=Date(year=2026, month=13, day=1))
            )
    assert fetched.import_id
    assert (fetched.arrivals, fetched.payouts, fetched.unexpected, fetched.posted) == (0, 0, 0, 0)
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_payout_the_bank_made_clears_what_the_ledger_booked_for_it_fee_included(
    gateway_stub: gpb_grpc.GatewayServiceAsyncStub,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    funds: str,
    bank: Bank,
    bank_url: str,
    merchant: str,  # noqa: F811 (the fixture)
    db: asyncpg.Connection,
) -> None:
    payout = (await gateway_stub.CreatePayout(payout_request(merchant, 30_000))).payout
    assert await ledger_transfers(db, payout.payout_id, PAID) == PAID
    [paid] = await bank_payouts(bank_url, payout.payout_id)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()

    result = await _reconcile(funds, bank, today)
    again = await _reconcile(funds, bank, today)

    booked = (
        await ledger_stub.GetTransfer(
            lpb.GetTransferRequest(transfer_id=f"funds:{paid['payout_no']}")
        )
    ).transfer
    assert [
        (p.debit_account_id, p.credit_account_id, p.amount.minor_units) for p in booked.postings
    ] == [("channel.banksim.payouts.CNY", "platform.reserve.CNY", 30_000 + paid["fee"])]
    assert paid["payout_no"] not in {d.reference for d in result.differences}
    assert result.payouts >= 1 and result.balanced
    assert again.posted == 0 and again.balanced


async def test_a_reserve_movement_the_bank_never_saw_is_flagged_until_it_is_undone(
    funds: str, bank: Bank, ledger_stub: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    ghost = f"rsv-ghost-{secrets.token_hex(4)}"
    posted = await ledger_stub.CreateTransfers(
        lpb.CreateTransfersRequest(
            transfers=[
                lpb.TransferSpec(
                    transfer_id=ghost,
                    description="booked to the reserve account, never at the bank",
                    postings=[
                        lpb.Posting(
                            debit_account_id="platform.reserve.CNY",
                            credit_account_id="platform.day_end_difference.CNY",
                            amount=Money(currency_code="CNY", minor_units=1),
                        )
                    ],
                )
            ]
        )
    )
    assert posted.results[0].result == lpb.CREATE_TRANSFER_RESULT_POSTED
    try:
        flagged = await _reconcile(funds, bank, today)
    finally:
        await ledger_stub.ReverseTransfer(
            lpb.ReverseTransferRequest(
                transfer_id=f"{ghost}:undo", reversed_transfer_id=ghost, reason="TEST"
            )
        )
    balanced = await _reconcile(funds, bank, today)

    (check,) = flagged.balances
    assert not check.balanced and not flagged.balanced and not flagged.clean
    assert check.ledger_balance.minor_units == check.bank_closing_balance.minor_units + 1
    assert balanced.balanced


async def _book_payout(
    ledger: lpb_grpc.LedgerServiceAsyncStub, payout_id: str, amount: int, fee: int
) -> None:
    """The ledger's books of a paid payout, as the gateway posts them (late, here)."""
    specs = [
        lpb.TransferSpec(
            transfer_id=f"{payout_id}:{suffix}",
            postings=[
                lpb.Posting(
                    debit_account_id=debit,
                    credit_account_id="channel.banksim.payouts.CNY",
                    amount=Money(currency_code="CNY", minor_units=units),
                )
            ],
        )
        for suffix, debit, units in (
            ("payout", "platform.day_end_difference.CNY", amount),
            ("payout-fee", "platform.channel_fee_expense.CNY", fee),
        )
    ]
    answer = await ledger.CreateTransfers(lpb.CreateTransfersRequest(transfers=specs))
    assert {r.result for r in answer.results} == {lpb.CREATE_TRANSFER_RESULT_POSTED}


async def test_a_payout_booked_after_the_statement_is_matched_later_out_of_suspense(
    funds: str, bank: Bank, ledger_stub: lpb_grpc.LedgerServiceAsyncStub
) -> None:
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    payout_id = f"po_late{secrets.token_hex(6)}"
    paid = await bank.call(
        "POST",
        "/api/payout/pay",
        {
            "mch_id": "PAYSUITE01",
            "out_payout_no": payout_id,
            "amount": 6_000,
            "currency": "CNY",
            "account_no": "6222020200112345",
            "account_name": "Demo Shop Ltd",
        },
        secret=DEV_BANK_SECRET,
    )
    assert paid.json()["code"] == "SUCCESS", paid.body
    fee = paid.json()["fee"]

    unexplained = await _reconcile(funds, bank, today)
    parked = await _open_items(ledger_stub, f"funds:{paid.json()['payout_no']}")
    await _book_payout(ledger_stub, payout_id, 6_000, fee)
    matched = await _reconcile(funds, bank, today)
    again = await _reconcile(funds, bank, today)

    bank_ref = paid.json()["payout_no"]
    assert [
        (d.kind, d.actual.minor_units) for d in unexplained.differences if d.reference == bank_ref
    ] == [(fpb.FUNDS_DIFFERENCE_KIND_UNEXPECTED, -(6_000 + fee))]
    assert parked == [-(6_000 + fee)]
    assert bank_ref not in {d.reference for d in matched.differences}
    assert matched.posted == 1 and again.posted == 0  # the suspense item cleared, once
    assert matched.payouts == unexplained.payouts + 1
    assert matched.unexpected == unexplained.unexpected - 1
    assert await _open_items(ledger_stub, f"funds:{bank_ref}") == []
    assert matched.balanced and again.balanced
