"""Clearing and settlement against real services: a merchant's day of card payments and a
refund on a bank channel of the test's own, reconciled three ways, cleared by a recon of its
own and paid to the merchants' bank accounts through the gateway's payouts and the bank
simulator. A run again books and pays nothing twice; a declined, a returned (退票) and a
timed-out payout lose nothing and are paid once when paid again. A D+0 merchant's payout is
advanced of the platform's own funds, and repaid once the channel's money of the day arrives
in the reserve account (FundsService), once however often the reserve is reconciled. A
merchant paid partly by platform coupons is cleared its whole orders with its coupons shown,
and the day's coupons are funded from the platform's own funds into the reserve account once,
matched with the bank's entry of the treasury's transfer."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import grpc
import pytest
from google.type.date_pb2 import Date

from devstack.callers import RoutedChannel
from gateway.bootstrap import build_app as build_gateway
from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import funds_service_pb2 as fpb
from paysuite.recon.v1 import funds_service_pb2_grpc as fpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.recon.v1 import settlement_service_pb2 as spb
from paysuite.recon.v1 import settlement_service_pb2_grpc as spb_grpc
from paysuite.runtime.grpc_errors import error_reason, field_violations
from paysuite.runtime.identities import merchant as identity
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from recon.bootstrap import build_app as build_recon
from recon.settings import ReconSettings
from tests.helpers import connect, eventually, outbox_drained
from tests.integration.conftest import bank_channel, gateway_settings, serving
from tests.integration.payout_support import CALM, bank_admin, bank_payouts, card_payer
from tests.integration.test_recon_matching import HEADER, _import, _records, line
from tests.integration.wallet_client import WalletClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEE_BPS = 60
GOOD = ("6222020200112345", "Shop Ltd")
CLOSED = ("6222020200110000", "Gone Ltd")  # the bank declines: ACCOUNT_CLOSED
PAID = spb.SettlementPayout.STATE_SUCCEEDED
RESERVE_BPS, RESERVE_DAYS = 1_000, 30


def _date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


@dataclass
class Suite:
    gateway: gpb_grpc.GatewayServiceAsyncStub
    ledger: lpb_grpc.LedgerServiceAsyncStub
    recon: rpb_grpc.ReconServiceAsyncStub
    settle: spb_grpc.SettlementServiceAsyncStub
    funds: fpb_grpc.FundsServiceAsyncStub
    channel: str
    gateway_addr: str
    gateway_conn: RoutedChannel
    today: date
    merchants: dict[str, tuple[str, str]]  # merchant -> its settlement account
    expected: dict[str, int]  # merchant -> payments - refunds - fees
    reserved: str = ""  # a merchant with a rolling reserve of RESERVE_BPS
    advanced: str = ""  # a merchant settled D+0, the platform advancing its payout
    couponed: str = ""  # a merchant whose payments the platform's coupons paid part of
    payer: str = ""  # a real-named user of the module's own, its limits untouched by others


@pytest.fixture(scope="module")
async def suite(
    gateway_addr: str,  # the suite's own gateway, started and seeded before this module's
    ledger_addr: str,
    identity_addr: str,
    bank_url: str,
    alipay: WalletClient,
    wechat: WalletClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Suite]:
    """A gateway replica whose card payments all go to a bank channel of this module's own,
    and a recon clearing that channel only (its money arriving in the reserve account on the
    day itself); five merchants with a day of payments on it."""
    channel = f"st{secrets.token_hex(3)}"
    rules = tmp_path_factory.mktemp("rules") / "rules.json"
    rules.write_text(
        json.dumps({"rules": [{"name": "settle", "methods": ["bank_card"], "split": {channel: 1}}]})
    )
    await bank_admin(bank_url, "POST", "/_admin/faults", CALM)
    async with (
        serving(
            build_gateway,
            gateway_settings(
                ledger_addr,
                identity_addr,
                bank_url,
                alipay,
                wechat,
                extra_channels={channel: bank_channel(bank_url)},
                channel_rules_file=rules,
                payout_returns_check_seconds=0.2,
            ),
        ) as gw,
        serving(
            build_recon,
            ReconSettings(
                gateway_addr=gw,
                ledger_addr=ledger_addr,
                ranges=4,
                settlement_channels=(channel,),
                settlement_unreconciled=(),
                settlement_follow_seconds=0.5,
                reserve_statement_channel=f"rst{secrets.token_hex(3)}",
                reserve_settlement_days={channel: 0},
            ),
        ) as recon_addr,
        connect(gw) as gw_conn,
        connect(ledger_addr) as ledger_conn,
        connect(recon_addr) as recon_conn,
    ):
        made = Suite(
            gpb_grpc.GatewayServiceStub(gw_conn),
            lpb_grpc.LedgerServiceStub(ledger_conn),
            rpb_grpc.ReconServiceStub(recon_conn),
            spb_grpc.SettlementServiceStub(recon_conn),
            fpb_grpc.FundsServiceStub(recon_conn),
            channel,
            gw,
            gw_conn,
            datetime.now(SHANGHAI).date(),
            {},
            {},
        )
        made.payer = await card_payer(identity_addr, bank_url)
        for name, account in (("a", GOOD), ("b", CLOSED), ("c", GOOD)):
            merchant = f"S{name}{secrets.token_hex(4)}"
            made.merchants[merchant] = account
            made.expected[merchant], _ = await _day_of(made, merchant)
        made.reserved = f"Sr{secrets.token_hex(4)}"
        made.expected[made.reserved], _ = await _day_of(made, made.reserved)
        made.advanced = f"Sd{secrets.token_hex(4)}"
        made.expected[made.advanced], _ = await _day_of(made, made.advanced)
        made.couponed = f"Sk{secrets.token_hex(4)}"
        made.expected[made.couponed], refund = await _day_of(made, made.couponed, COUPON_ORDERS)
        assert refund.platform_coupon.minor_units == 375
        yield made


async def _register(suite: Suite, merchant: str) -> None:
    """The merchant (fee 0.6%) and its payable."""
    await suite.gateway.RegisterMerchant(
        gpb.RegisterMerchantRequest(
            merchant=gpb.Merchant(merchant_id=merchant, name="Shop", fee_rate_bps=FEE_BPS)
        )
    )
    payable = accounts.merchant_payable(merchant, "CNY")
    await suite.ledger.CreateAccounts(
        lpb.CreateAccountsRequest(
            accounts=[
                lpb.AccountSpec(
                    account_id=payable,
                    name="Payable",
                    type=lpb.ACCOUNT_TYPE_LIABILITY,
                    currency_code="CNY",
                    owner_type=lpb.OWNER_TYPE_MERCHANT,
                    owner_id=merchant,
                )
            ]
        )
    )


# A merchant's day: orders of 100.00 and 23.45, 25.00 of the first refunded. The coupon
# merchant's: 100.00 (15.00 of it a platform coupon) and 20.00 (5.00), 25.00 of the first
# refunded (3.75 of it the coupon's share).
ORDERS = ((10_000, 0), (2_345, 0))
COUPON_ORDERS = ((10_000, 1_500), (2_000, 500))
COUPONS = 1_500 + 500 - 375


async def _day_of(
    suite: Suite, merchant: str, orders: tuple[tuple[int, int], ...] = ORDERS
) -> tuple[int, gpb.Refund]:
    """Registers the merchant (fee 0.6%), pays it the orders (amount, platform coupon) and
    refunds part of the first; its net, which coupons do not change, and the refund."""
    await _register(suite, merchant)
    net = 0
    payments = []
    for amount, coupon in orders:
        request = gpb.CreatePaymentRequest(
            request_id=f"st-{secrets.token_hex(8)}",
            merchant_id=merchant,
            merchant_order_no=f"ST-{secrets.token_hex(6)}",
            amount=Money(currency_code="CNY", minor_units=amount),
            method=gpb.PAYMENT_METHOD_BANK_CARD,
            payer_user_id=suite.payer,
        )
        if coupon:
            request.platform_coupon.CopyFrom(Money(currency_code="CNY", minor_units=coupon))
        answer = await suite.gateway.CreatePayment(request)
        assert answer.payment.state == gpb.Payment.STATE_SUCCEEDED
        payments.append(answer.payment)
        net += amount - answer.payment.merchant_fee.minor_units
    # A refund names no merchant: asked as the payment's merchant, who alone may see it.
    as_merchant = gpb_grpc.GatewayServiceStub(suite.gateway_conn.channel_for(identity(merchant)))
    refund = await as_merchant.RefundPayment(
        gpb.RefundPaymentRequest(
            request_id=f"sr-{secrets.token_hex(8)}",
            payment_id=payments[0].payment_id,
            amount=Money(currency_code="CNY", minor_units=2_500),
            reason="customer returned an item",
        )
    )
    assert refund.refund.state == gpb.Refund.STATE_SUCCEEDED
    # The refund gives back its share of the fee: 60 of 10,000 is 0.6%, of 2,500 it is 15.
    return net - (2_500 - 15), refund.refund


async def _balance(suite: Suite, account_id: str) -> int:
    answer = await suite.ledger.GetAccount(lpb.GetAccountRequest(account_id=account_id))
    return answer.account.balance.minor_units


async def _settings(
    suite: Suite,
    merchant: str,
    account: tuple[str, str],
    reserve_bps: int = 0,
    *,
    advance: bool = False,
) -> None:
    await suite.settle.UpdateSettlementSettings(
        spb.UpdateSettlementSettingsRequest(
            settings=spb.SettlementSettings(
                merchant_id=merchant,
                cycle_days=1,
                advance=advance,
                account_no=account[0],
                account_name=account[1],
                reserve_basis_points=reserve_bps,
                reserve_days=RESERVE_DAYS,
            )
        )
    )


async def _clear(suite: Suite) -> spb.SettlementBatch:
    """Clears today, paying what is due a week on (T+1 is due by then whatever the weekday)."""
    answer = await suite.settle.RunClearing(
        spb.RunClearingRequest(
            trade_date=_date(suite.today), settlement_date=_date(suite.today + timedelta(days=7))
        )
    )
    return answer.batch


def _lines(batch: spb.SettlementBatch) -> dict[str, spb.SettlementLine]:
    return {line.merchant_id: line for line in batch.lines}


async def _payout_state(
    suite: Suite, batch_id: str, merchant: str
) -> spb.SettlementPayout.State.ValueType:
    batch = (
        await suite.settle.GetSettlementBatch(spb.GetSettlementBatchRequest(batch_id=batch_id))
    ).batch
    return _lines(batch)[merchant].payout_state


async def test_clearing_waits_for_a_clean_reconciliation(
    suite: Suite, db: asyncpg.Connection
) -> None:
    assert await outbox_drained(db)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _clear(suite)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == ErrorReason.ERROR_REASON_RECONCILIATION_NOT_CLEAN
    assert (
        await db.fetchval(
            "SELECT count(*) FROM recon.settlement_batches WHERE batch_id = $1",
            f"stb_{suite.today:%Y%m%d}",
        )
        == 0
    )


async def test_bad_settings_are_refused_with_field_violations(suite: Suite) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await suite.settle.UpdateSettlementSettings(
            spb.UpdateSettlementSettingsRequest(
                settings=spb.SettlementSettings(
                    merchant_id="M1", cycle_days=-1, reserve_basis_points=20_000, account_no="12"
                )
            )
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    fields = {f for f, _ in field_violations(refused.value)}
    assert {"settings.cycle_days", "settings.reserve_basis_points", "settings.account_no"} <= fields


async def test_a_reconciled_day_is_cleared_and_each_merchant_paid_its_net_once(
    suite: Suite, bank_url: str, db: asyncpg.Connection
) -> None:
    records = await _records(suite.gateway_addr, suite.channel, suite.today)
    bill = "\n".join([HEADER, *(line(r) for r in records)]) + "\n"
    await _import(suite.recon, suite.channel, suite.today, bill)
    run = await suite.recon.RunReconciliation(
        rpb.RunReconciliationRequest(
            request_id=f"sr-{secrets.token_hex(6)}",
            channel=suite.channel,
            statement_date=_date(suite.today),
        )
    )
    assert run.run.state == rpb.ReconciliationRun.STATE_COMPLETED, run.run.failure
    assert run.run.discrepancies == 0
    for merchant, account in suite.merchants.items():
        await _settings(suite, merchant, account)
    await _settings(suite, suite.reserved, GOOD, RESERVE_BPS)
    await _settings(suite, suite.advanced, GOOD, advance=True)
    batch = await _clear(suite)
    lines = _lines(batch)
    assert {m: lines[m].net.minor_units for m in suite.expected} == suite.expected
    a, b, c = suite.merchants
    assert (lines[a].payments.minor_units, lines[a].refunds.minor_units) == (12_345, 2_500)
    assert lines[a].fees.minor_units == 60 + 14 - 15
    assert [ch.channel for ch in batch.channels] == [suite.channel]
    states = {m: lines[m].payout_state for m in suite.merchants}
    assert states == {a: PAID, b: spb.SettlementPayout.STATE_FAILED, c: PAID}
    for merchant in suite.merchants:
        assert await _balance(suite, accounts.merchant_payable(merchant, "CNY")) == 0
        assert await _balance(suite, accounts.merchant_to_settle(merchant, "CNY")) == 0
    assert await _balance(suite, accounts.merchant_settling(b, "CNY")) == suite.expected[b]
    payouts = {p.merchant_id: p for p in batch.payouts}
    [paid] = await bank_payouts(bank_url, payouts[a].payout_id)
    assert (paid["code"], paid["amount"]) == ("SUCCESS", suite.expected[a])

    again = await _clear(suite)  # a run again: the same batch, nothing booked or paid twice
    assert {p.payout_id for p in again.payouts} == {p.payout_id for p in batch.payouts}
    assert len(await bank_payouts(bank_url, payouts[a].payout_id)) == 1
    transfers = await db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE transfer_id LIKE $1", f"settle:{a}:%"
    )
    assert transfers == 2  # clear, settling


async def test_a_declined_payout_is_paid_again_to_the_corrected_account(
    suite: Suite, bank_url: str
) -> None:
    b = list(suite.merchants)[1]
    await _settings(suite, b, GOOD)
    batch = await _clear(suite)
    [failed] = [p for p in batch.payouts if p.merchant_id == b]
    assert failed.failure_reason == "ACCOUNT_CLOSED"
    retried = (
        await suite.settle.RetryPayout(
            spb.RetryPayoutRequest(settlement_payout_id=failed.settlement_payout_id)
        )
    ).payout
    assert (retried.state, retried.attempt) == (PAID, 2)
    [paid] = await bank_payouts(bank_url, retried.payout_id)
    assert paid["amount"] == suite.expected[b]
    settling = accounts.merchant_settling(b, "CNY")
    assert await eventually(lambda: _balance(suite, settling), 0) == 0
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await suite.settle.RetryPayout(
            spb.RetryPayoutRequest(settlement_payout_id=failed.settlement_payout_id)
        )
    assert error_reason(refused.value) == ErrorReason.ERROR_REASON_SETTLEMENT_PAYOUT_NOT_RETRYABLE


async def test_a_returned_payout_is_reported_and_paid_again_once(
    suite: Suite, bank_url: str
) -> None:
    c = list(suite.merchants)[2]
    batch = await _clear(suite)
    [payout] = [p for p in batch.payouts if p.merchant_id == c]
    await bank_admin(
        bank_url, "POST", f"/_admin/payouts/{payout.payout_id}/return", {"reason": "ACCOUNT_FROZEN"}
    )
    returned = spb.SettlementPayout.STATE_RETURNED
    assert (
        await eventually(lambda: _payout_state(suite, batch.batch_id, c), returned, 60) == returned
    )
    settling = accounts.merchant_settling(c, "CNY")
    assert (
        await eventually(lambda: _balance(suite, settling), suite.expected[c]) == suite.expected[c]
    )
    # The bank is slow to answer the new attempt: the payout stays open until it is asked.
    await bank_admin(
        bank_url,
        "POST",
        "/_admin/faults",
        {**CALM, "payout_timeout_rate": 1, "timeout_sleep_ms": 3000},
    )
    retried = (
        await suite.settle.RetryPayout(
            spb.RetryPayoutRequest(settlement_payout_id=payout.settlement_payout_id)
        )
    ).payout
    await bank_admin(bank_url, "POST", "/_admin/faults", CALM)
    assert retried.attempt == 2
    assert await eventually(lambda: _payout_state(suite, batch.batch_id, c), PAID, 60) == PAID
    assert await eventually(lambda: _balance(suite, settling), 0) == 0
    current = next(p for p in (await _clear(suite)).payouts if p.merchant_id == c)
    assert len(await bank_payouts(bank_url, current.payout_id)) == 1


async def test_a_rolling_reserve_is_held_back_and_paid_once_its_days_are_over(
    suite: Suite, bank_url: str
) -> None:
    merchant, net = suite.reserved, suite.expected[suite.reserved]
    held = net * RESERVE_BPS // 10_000
    batch = await _clear(suite)
    line = _lines(batch)[merchant]
    assert (line.net.minor_units, line.reserve_held.minor_units) == (net, held)
    [first] = [p for p in batch.payouts if p.merchant_id == merchant]
    assert (first.amount.minor_units, first.state) == (net - held, PAID)
    reserve = accounts.merchant_reserve(merchant, "CNY")
    assert await _balance(suite, reserve) == held
    release = line.reserve_release_date
    answer = await suite.settle.RunClearing(
        spb.RunClearingRequest(trade_date=_date(suite.today), settlement_date=release)
    )
    [released] = [p for p in answer.batch.payouts if p.merchant_id == merchant and p != first]
    assert (released.amount.minor_units, released.reserve_released.minor_units) == (held, held)
    assert released.settlement_date == release and released.state == PAID
    [paid] = await bank_payouts(bank_url, released.payout_id)
    assert paid["amount"] == held
    assert await _balance(suite, reserve) == 0


async def test_the_statement_lists_each_merchant_with_its_payout_reference(suite: Suite) -> None:
    batch_id = f"stb_{suite.today:%Y%m%d}"
    a = next(iter(suite.merchants))
    answer = await suite.settle.GetSettlementStatement(
        spb.GetSettlementStatementRequest(batch_id=batch_id, merchant_id=a)
    )
    header, row = answer.content.decode().splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert (values["merchant_id"], values["payments"], values["refunds"]) == (a, "123.45", "25.00")
    assert values["net"] == f"{suite.expected[a] // 100}.{suite.expected[a] % 100:02d}"
    assert values["payout_reference"].startswith("po_")
    listed = await suite.settle.ListSettlementBatches(spb.ListSettlementBatchesRequest(page_size=1))
    assert [b.batch_id for b in listed.batches] == [batch_id]


async def test_a_payout_from_another_merchants_account_is_refused(suite: Suite) -> None:
    a, b, _ = suite.merchants
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await suite.gateway.CreatePayout(
            ppb.CreatePayoutRequest(
                request_id=f"st-po-{secrets.token_hex(6)}",
                merchant_id=a,
                amount=Money(currency_code="CNY", minor_units=100),
                payee_account=ppb.PayeeAccount(account_no=GOOD[0], account_name=GOOD[1]),
                source_account_id=accounts.merchant_settling(b, "CNY"),
            )
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(refused.value)] == ["source_account_id"]


async def _moved(suite: Suite, transfer_id: str) -> tuple[str, str, int] | None:
    """The transfer's one posting (debit, credit, amount); None when the ledger has none."""
    try:
        answer = await suite.ledger.GetTransfer(lpb.GetTransferRequest(transfer_id=transfer_id))
    except grpc.aio.AioRpcError as exc:
        assert exc.code() is grpc.StatusCode.NOT_FOUND
        return None
    [posting] = answer.transfer.postings
    return posting.debit_account_id, posting.credit_account_id, posting.amount.minor_units


async def _reconcile_reserve(suite: Suite) -> fpb.ReconcileReserveAccountResponse:
    """The reserve account's statement of the day, fetched from the bank and reconciled."""
    return await suite.funds.ReconcileReserveAccount(
        fpb.ReconcileReserveAccountRequest(statement_date=_date(suite.today))
    )


async def test_a_d_plus_0_advance_is_repaid_once_when_the_days_money_arrives(
    suite: Suite, bank_url: str, db: asyncpg.Connection
) -> None:
    merchant, net = suite.advanced, suite.expected[suite.advanced]
    batch = await _clear(suite)
    [payout] = [p for p in batch.payouts if p.merchant_id == merchant]
    assert (payout.advanced, payout.amount.minor_units, payout.state) == (True, net, PAID)
    paid_on = payout.settlement_date
    key = f"settle:{merchant}:CNY:{paid_on.year:04d}-{paid_on.month:02d}-{paid_on.day:02d}"
    advance, own_funds = accounts.settlement_advance("CNY"), accounts.own_funds("CNY")
    assert await _moved(suite, f"{key}:advance") == (advance, own_funds, net)
    owed = await _balance(suite, accounts.channel_receivable(suite.channel, "CNY"))
    assert owed > 0

    # The channel's money of the day is not in yet: the advance stays.
    waiting = await _reconcile_reserve(suite)
    assert await _moved(suite, f"{key}:repay") is None
    advanced_before = await _balance(suite, advance)
    assert advanced_before >= net
    settlement = {"channel": suite.channel, "business_date": suite.today.isoformat()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{bank_url}/_admin/reserve/settlements", json={**settlement, "amount": owed}
        ) as response,
    ):
        assert response.status in (200, 201), await response.text()
        assert (await response.json())["paid"] == owed
    arrived = await _reconcile_reserve(suite)
    again = await _reconcile_reserve(suite)

    assert [d.kind for d in waiting.differences if d.channel == suite.channel] == [
        fpb.FUNDS_DIFFERENCE_KIND_MISSING
    ]
    assert [d for d in arrived.differences if d.channel == suite.channel] == []
    # Repaid to the platform's own funds, exactly what was advanced: the advance is back to zero.
    assert await _moved(suite, f"{key}:repay") == (own_funds, advance, net)
    assert await _balance(suite, advance) == advanced_before - net
    # Reconciled again: nothing posted, nothing repaid twice.
    assert again.posted == 0
    assert await _balance(suite, advance) == advanced_before - net
    transfers = await db.fetchval(
        "SELECT count(*) FROM ledger.transfers WHERE transfer_id LIKE $1", f"settle:{merchant}:%"
    )
    assert transfers == 4  # clear, settling, advance, repay


async def test_coupons_are_cleared_and_funded_from_own_funds_once(
    suite: Suite, bank_url: str, db: asyncpg.Connection
) -> None:
    merchant = suite.couponed
    batch = await _clear(suite)  # made by the clean day's test: the same batch again
    line = _lines(batch)[merchant]
    # The merchant is cleared its whole orders, the coupons' part included, and its net.
    assert (line.payments.minor_units, line.refunds.minor_units) == (12_000, 2_500)
    assert (line.coupons.minor_units, line.net.minor_units) == (COUPONS, suite.expected[merchant])
    statement = await suite.settle.GetSettlementStatement(
        spb.GetSettlementStatementRequest(batch_id=batch.batch_id, merchant_id=merchant)
    )
    header, row = statement.content.decode().splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["coupons"] == "16.25"
    # The day's coupons (this channel's only) moved from own funds into the reserve account.
    funding = f"fund:coupons:CNY:{suite.today.isoformat()}"
    reserve, own_funds = "platform.reserve.CNY", accounts.own_funds("CNY")
    assert await _moved(suite, funding) == (reserve, own_funds, COUPONS)
    await _clear(suite)
    assert (
        await db.fetchval("SELECT count(*) FROM ledger.transfers WHERE transfer_id = $1", funding)
        == 1
    )

    # The treasury moves the money in at the bank: the reserve reconciliation matches the
    # entry with the booking and books nothing for it, however often it runs.
    reference = f"CPN-CNY-{suite.today:%Y%m%d}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{bank_url}/_admin/reserve/fundings", json={"reference": reference, "amount": COUPONS}
        ) as response,
    ):
        assert response.status == 201, await response.text()
        bank_ref = (await response.json())["bank_ref"]
    reconciled = await _reconcile_reserve(suite)
    again = await _reconcile_reserve(suite)
    kind = await db.fetchval("SELECT kind FROM recon.funds_entries WHERE bank_ref = $1", bank_ref)
    assert kind == "funding"
    assert await _moved(suite, f"funds:{bank_ref}") is None
    for run in (reconciled, again):
        assert [d for d in run.differences if d.reference == bank_ref] == []
        assert run.fundings == 1
    assert again.posted == 0
