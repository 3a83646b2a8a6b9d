"""Reconciliation three ways against real services: the gateway's card payments on a bank
channel of their own, the ledger's postings, and a bill imported for the day with a difference
of every kind planted. Every difference is found and parked in suspense once, a day run again
posts nothing new, each business action clears its suspense item, and a corrected bill
resolves what it now matches."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest
from google.type.date_pb2 import Date

from devstack import demo
from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import channel_records_pb2_grpc as cpb_grpc
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, outbox_drained
from tests.integration.conftest import Replica, bank_channel
from tests.integration.payout_support import card_payer

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = "trade_no,order_no,refund_trade_no,refund_no,type,amount,currency,fee,time,status"
MAPPING = rpb.CsvColumnMapping(
    columns={
        "channel_transaction_id": "trade_no",
        "order_id": "order_no",
        "channel_refund_id": "refund_trade_no",
        "refund_id": "refund_no",
        "kind": "type",
        "amount": "amount",
        "currency": "currency",
        "fee": "fee",
        "time": "time",
        "status": "status",
    },
    time_zone="Asia/Shanghai",
)


def _date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def _yuan(units: int) -> str:
    return f"{units // 100}.{units % 100:02d}"


def line(
    record: cpb.ChannelRecord,
    *,
    amount: int | None = None,
    fee: int | None = None,
    status: str = "SUCCESS",
    trade_no: str | None = None,
) -> str:
    refund = record.kind == cpb.ChannelRecord.KIND_REFUND
    trade = trade_no or record.channel_transaction_id
    return ",".join(
        [
            "T-" + record.payment_id if refund else trade,
            record.payment_id,
            trade if refund else "",
            record.refund_id,
            "refund" if refund else "payment",
            _yuan(record.amount.minor_units if amount is None else amount),
            "CNY",
            _yuan(record.fee_minor_units if fee is None else fee),
            "2026-01-01 12:00:00",
            status,
        ]
    )


@pytest.fixture(scope="module")
def channel() -> str:
    return f"rb{secrets.token_hex(3)}"


@pytest.fixture
async def gateway(
    replica: Replica, bank_url: str, channel: str, tmp_path: Path
) -> AsyncIterator[str]:
    """A gateway replica with a bank channel of the test's own, taking every card payment."""
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"rules": [{"name": "recon", "methods": ["bank_card"], "split": {channel: 1}}]})
    )
    async with replica(
        extra_channels={channel: bank_channel(bank_url)}, channel_rules_file=rules
    ) as addr:
        yield addr


@pytest.fixture
async def card_user(identity_addr: str, bank_url: str) -> str:
    """A real-named payer with a bound card of the test's own: the demo user's daily limits
    are spent by the tests before this one in a full run."""
    return await card_payer(identity_addr, bank_url)


async def _pay(gateway: gpb_grpc.GatewayServiceAsyncStub, amount: int, payer: str) -> gpb.Payment:
    answer = await gateway.CreatePayment(
        gpb.CreatePaymentRequest(
            request_id=f"rc-{secrets.token_hex(8)}",
            merchant_id=demo.MERCHANT_ID,
            merchant_order_no=f"RC-{secrets.token_hex(6)}",
            amount=Money(currency_code="CNY", minor_units=amount),
            method=gpb.PAYMENT_METHOD_BANK_CARD,
            payer_user_id=payer,
        )
    )
    assert answer.payment.state == gpb.Payment.STATE_SUCCEEDED, answer.payment.failure_reason
    return answer.payment


async def _records(addr: str, channel: str, day: date) -> list[cpb.ChannelRecord]:
    async with connect(addr) as conn:
        stub = cpb_grpc.ChannelRecordsServiceStub(conn)
        call = stub.StreamChannelRecords(
            cpb.StreamChannelRecordsRequest(channel=channel, accounting_date=_date(day))
        )
        return [r async for batch in call for r in batch.records]


async def _import(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str, day: date, text: str
) -> rpb.ImportStatementResponse:
    async def messages() -> AsyncIterator[rpb.ImportStatementRequest]:
        upload = rpb.StatementUpload(
            channel=channel,
            format=rpb.STATEMENT_FORMAT_CSV,
            statement_date=_date(day),
            csv_mapping=MAPPING,
        )
        yield rpb.ImportStatementRequest(upload=upload)
        yield rpb.ImportStatementRequest(chunk=text.encode())

    answer: rpb.ImportStatementResponse = await recon.ImportStatement(messages())
    assert answer.statement_import.rejected_count == 0, answer.statement_import.rejected_lines
    return answer


async def _run(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str, day: date
) -> rpb.ReconciliationRun:
    answer = await recon.RunReconciliation(
        rpb.RunReconciliationRequest(
            request_id=f"rr-{secrets.token_hex(6)}", channel=channel, statement_date=_date(day)
        )
    )
    assert answer.run.state == rpb.ReconciliationRun.STATE_COMPLETED, answer.run.failure
    return answer.run


async def _discrepancies(
    recon: rpb_grpc.ReconServiceAsyncStub, channel: str
) -> dict[tuple[int, str], rpb.Discrepancy]:
    found: dict[tuple[int, str], rpb.Discrepancy] = {}
    token = ""
    while True:
        page = await recon.ListDiscrepancies(
            rpb.ListDiscrepanciesRequest(channel=channel, page_size=3, page_token=token)
        )
        for d in page.discrepancies:
            found[d.outcome, d.transaction_id] = d
        token = page.next_page_token
        if not token:
            return found


async def _suspense_balance(ledger: lpb_grpc.LedgerServiceAsyncStub, channel: str) -> int:
    answer = await ledger.GetAccount(
        lpb.GetAccountRequest(account_id=f"channel.{channel}.suspense.CNY")
    )
    return answer.account.balance.minor_units


@dataclass(frozen=True)
class DifferencesDay:
    """A day of the channel with one difference of every kind, and its bill."""

    day: date
    bill: list[str]
    ids: list[str]  # the payments, in the bill's order of differences
    pay: dict[str, cpb.ChannelRecord]
    long_id: str
    expected: dict[tuple[rpb.MatchOutcome.ValueType, str], int]  # (outcome, id): what it parks


async def _every_difference(
    gateway: str,
    channel: str,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    db: asyncpg.Connection,
    payer: str,
) -> DifferencesDay:
    """Seven card payments and a refund of the first, a capture only the ledger has, and a
    bill that matches the first and the refund, shifts an amount and a fee, leaves one out,
    fails one, lists one twice and adds one only the bank knows."""
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        paid = [await _pay(stub, 1000 + n, payer) for n in range(7)]
        refund = await stub.RefundPayment(
            gpb.RefundPaymentRequest(
                request_id=f"rf-{secrets.token_hex(6)}",
                payment_id=paid[0].payment_id,
                amount=Money(currency_code="CNY", minor_units=300),
                reason="customer asked",
            )
        )
    assert await outbox_drained(db)
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    records = {
        (r.kind, r.refund_id or r.payment_id): r for r in await _records(gateway, channel, day)
    }
    pay = {p.payment_id: records[cpb.ChannelRecord.KIND_PAYMENT, p.payment_id] for p in paid}
    ids = [p.payment_id for p in paid]
    refunded = records[cpb.ChannelRecord.KIND_REFUND, refund.refund.refund_id]
    # A capture the ledger has and neither the gateway nor the bank: a ledger mismatch.
    ghost = f"pay_ghost{secrets.token_hex(6)}"
    posted = await ledger_stub.CreateTransfers(
        lpb.CreateTransfersRequest(
            transfers=[
                lpb.TransferSpec(
                    transfer_id=f"{ghost}:capture",
                    postings=[
                        lpb.Posting(
                            debit_account_id=f"channel.{channel}.receivable.CNY",
                            credit_account_id=f"merchant.{demo.MERCHANT_ID}.payable.CNY",
                            amount=Money(currency_code="CNY", minor_units=77),
                        )
                    ],
                )
            ]
        )
    )
    assert posted.results[0].result == lpb.CREATE_TRANSFER_RESULT_POSTED
    long_id = f"pay_only_at_bank{secrets.token_hex(4)}"
    bill = [
        HEADER,
        line(pay[ids[0]]),  # matched
        line(refunded),  # the refund matched
        line(pay[ids[1]], amount=pay[ids[1]].amount.minor_units + 5),  # amount
        line(pay[ids[2]], fee=pay[ids[2]].fee_minor_units + 1),  # fee
        # ids[3] missing: short
        line(pay[ids[4]], status="FAIL"),  # state
        line(pay[ids[5]]),
        line(pay[ids[5]], trade_no=f"DUP{secrets.token_hex(4)}"),  # duplicate
        line(pay[ids[6]]),
        f"LONG{secrets.token_hex(4)},{long_id},,,payment,8.88,CNY,0.05,2026-01-01 12:00:00,SUCCESS",
    ]
    expected = {
        (rpb.MATCH_OUTCOME_AMOUNT_MISMATCH, ids[1]): 5,
        (rpb.MATCH_OUTCOME_FEE_MISMATCH, ids[2]): -1,
        (rpb.MATCH_OUTCOME_SHORT, ids[3]): -pay[ids[3]].amount.minor_units,
        (rpb.MATCH_OUTCOME_STATE_MISMATCH, ids[4]): -pay[ids[4]].amount.minor_units,
        (rpb.MATCH_OUTCOME_DUPLICATE, ids[5]): pay[ids[5]].amount.minor_units,
        (rpb.MATCH_OUTCOME_LONG, long_id): 888,
        (rpb.MATCH_OUTCOME_LEDGER_MISMATCH, ghost): -77,
    }
    return DifferencesDay(day, bill, ids, pay, long_id, expected)


async def test_every_difference_is_found_parked_once_and_cleared_by_its_action(
    gateway: str,
    recon_addr: str,
    ledger_stub: lpb_grpc.LedgerServiceAsyncStub,
    channel: str,
    db: asyncpg.Connection,
    card_user: str,
) -> None:
    given = await _every_difference(gateway, channel, ledger_stub, db, card_user)
    day, bill, ids, pay, long_id, expected = (
        given.day,
        given.bill,
        given.ids,
        given.pay,
        given.long_id,
        given.expected,
    )
    # One payment flagged for reconciliation (a late answer contradicted it): resolved here.
    await db.execute(
        "UPDATE gateway.payments SET needs_reconciliation = true WHERE payment_id = $1", ids[0]
    )
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        await _import(recon, channel, day, "\n".join(bill) + "\n")
        run = await _run(recon, channel, day)
        found = await _discrepancies(recon, channel)
        assert {k: d.suspense_amount.minor_units for k, d in found.items()} == expected
        counts = {c.outcome: c.count for c in run.outcome_counts}
        assert counts[rpb.MATCH_OUTCOME_MATCHED] == 4  # three payments (one listed twice), a refund
        assert run.discrepancies == run.posted == len(expected)
        assert run.flagged_resolved == 1
        assert (run.buckets_done, run.buckets_total) == (1024, 1024)
        balance = await _suspense_balance(ledger_stub, channel)
        assert balance == sum(expected.values())
        for d in found.values():
            transfer = await ledger_stub.GetTransfer(
                lpb.GetTransferRequest(transfer_id=d.suspense_transfer_id)
            )
            assert transfer.transfer.metadata["discrepancy_id"] == d.discrepancy_id

        # The day again: the same differences, nothing posted twice.
        again = await _run(recon, channel, day)
        assert (again.discrepancies, again.posted) == (len(expected), 0)
        assert {k: d.discrepancy_id for k, d in (await _discrepancies(recon, channel)).items()} == {
            k: d.discrepancy_id for k, d in found.items()
        }
        assert await _suspense_balance(ledger_stub, channel) == balance

        # Business actions, each clearing its item.
        async def resolve(key: tuple[int, str], action: int, **fields: str) -> rpb.Discrepancy:
            answer = await recon.ResolveDiscrepancy(
                rpb.ResolveDiscrepancyRequest(
                    discrepancy_id=found[key].discrepancy_id,
                    action=action,  # type: ignore[arg-type]
                    reason="reconciliation",
                    **fields,
                )
            )
            return answer.discrepancy

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await resolve(
                (rpb.MATCH_OUTCOME_SHORT, ids[3]), rpb.RESOLUTION_ACTION_REFUND
            )  # nothing the channel holds for us to give back
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        refunded_long = await resolve(
            (rpb.MATCH_OUTCOME_LONG, long_id),
            rpb.RESOLUTION_ACTION_REFUND,
            business_reference="bank refund 42",
        )
        booked = await resolve(
            (rpb.MATCH_OUTCOME_DUPLICATE, ids[5]), rpb.RESOLUTION_ACTION_SUPPLEMENTARY_ORDER
        )
        written_off = await resolve(
            (rpb.MATCH_OUTCOME_STATE_MISMATCH, ids[4]),
            rpb.RESOLUTION_ACTION_WRITE_OFF,
            approver="finance-lead",
        )
        assert booked.resolution.counter_account_id == f"merchant.{demo.MERCHANT_ID}.payable.CNY"
        assert written_off.resolution.counter_account_id == "platform.recon_write_off.CNY"
        for done in (refunded_long, booked, written_off):
            assert done.state == rpb.Discrepancy.STATE_RESOLVED
            item = await ledger_stub.ListSuspenseItems(
                lpb.ListSuspenseItemsRequest(state=lpb.SuspenseItem.STATE_CLEARED, page_size=1000)
            )
            cleared = {i.item_id: i for i in item.items}
            assert cleared[done.suspense_item_id].cleared_by_transfer_id
        left = balance - 888 - pay[ids[5]].amount.minor_units + pay[ids[4]].amount.minor_units
        assert await _suspense_balance(ledger_stub, channel) == left
        # The same action again changes nothing.
        assert (
            await resolve((rpb.MATCH_OUTCOME_LONG, long_id), rpb.RESOLUTION_ACTION_REFUND)
        ).state == rpb.Discrepancy.STATE_RESOLVED

        # A corrected bill with the short payment's line: the day is reconciled again on it as
        # it is imported, the short payment matched later and its item cleared.
        imported = await _import(recon, channel, day, "\n".join([*bill, line(pay[ids[3]])]) + "\n")
        corrected = imported.run
        assert corrected.state == rpb.ReconciliationRun.STATE_COMPLETED
        assert corrected.import_id == imported.statement_import.import_id
        assert corrected.matched_later == 1
        assert (await _run(recon, channel, day)).matched_later == 0  # nothing left to match
        now = await _discrepancies(recon, channel)
        short = now[rpb.MATCH_OUTCOME_SHORT, ids[3]]
        assert short.state == rpb.Discrepancy.STATE_RESOLVED
        assert short.resolution.action == rpb.RESOLUTION_ACTION_MATCHED_LATER
        assert (
            await _suspense_balance(ledger_stub, channel) == left + pay[ids[3]].amount.minor_units
        )
