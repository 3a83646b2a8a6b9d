"""GetMerchantStatement against real services: a merchant's day of card payments and a refund on
a bank channel of the test's own, its statement from the ledger refused until the channel's day
is reconciled clean (a run, then its one difference accepted by a write-off), then given with
its payments, refund, fees and net, as lines and as CSV."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import grpc
import pytest

from devstack import demo, seed
from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.grpc_errors import error_info, field_violations
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, outbox_drained
from tests.integration.conftest import Replica, bank_channel
from tests.integration.test_recon_matching import (
    HEADER,
    SHANGHAI,
    _date,
    _import,
    _records,
    _run,
    card_user,  # noqa: F401 - the fixture
    line,
)

FEE_BPS = 100


@pytest.fixture
async def channel_gateway(
    replica: Replica, bank_url: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """A gateway replica whose card payments all go to a bank channel of the test's own."""
    channel = f"ms{secrets.token_hex(3)}"
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"rules": [{"name": "ms", "methods": ["bank_card"], "split": {channel: 1}}]})
    )
    async with replica(
        extra_channels={channel: bank_channel(bank_url)}, channel_rules_file=rules
    ) as addr:
        yield addr, channel


async def _statement(
    recon: rpb_grpc.ReconServiceAsyncStub, merchant_id: str, day: date
) -> rpb.GetMerchantStatementResponse:
    answer: rpb.GetMerchantStatementResponse = await recon.GetMerchantStatement(
        rpb.GetMerchantStatementRequest(merchant_id=merchant_id, statement_date=_date(day))
    )
    return answer


async def _refused(recon: rpb_grpc.ReconServiceAsyncStub, merchant_id: str, day: date) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _statement(recon, merchant_id, day)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(caught.value)
    assert info is not None and info.reason == "RECONCILIATION_NOT_CLEAN"
    return str(info.metadata["channels"])


async def test_the_statement_waits_for_a_clean_channel_day_then_adds_up(
    channel_gateway: tuple[str, str],
    gateway_addr: str,
    ledger_addr: str,
    recon_addr: str,
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    addr, channel = channel_gateway
    merchant_id = f"MS{secrets.token_hex(4)}"
    await seed.seed_ledger(ledger_addr, merchant_id)
    await seed.seed_merchant(gateway_addr, merchant_id, fee_bps=FEE_BPS)
    async with connect(addr) as conn:
        gateway = gpb_grpc.GatewayServiceStub(conn)
        paid = []
        for amount in (10_000, 2_500, 1_200):
            answer = await gateway.CreatePayment(
                gpb.CreatePaymentRequest(
                    request_id=f"ms-{secrets.token_hex(8)}",
                    merchant_id=merchant_id,
                    merchant_order_no=f"MS-{secrets.token_hex(6)}",
                    amount=Money(currency_code="CNY", minor_units=amount),
                    method=gpb.PAYMENT_METHOD_BANK_CARD,
                    payer_user_id=card_user,
                )
            )
            assert answer.payment.state == gpb.Payment.STATE_SUCCEEDED
            paid.append(answer.payment)
        refund = await gateway.RefundPayment(
            gpb.RefundPaymentRequest(
                request_id=f"msr-{secrets.token_hex(6)}",
                payment_id=paid[0].payment_id,
                amount=Money(currency_code="CNY", minor_units=4_000),
                reason="customer asked",
            )
        )
    assert await outbox_drained(db)
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        assert await _refused(recon, merchant_id, day) == f"{channel}: not reconciled"

        # The bank's bill lacks the last payment: reconciled, one difference open.
        records = {
            (r.kind, r.refund_id or r.payment_id): r for r in await _records(addr, channel, day)
        }
        payments = [records[cpb.ChannelRecord.KIND_PAYMENT, p.payment_id] for p in paid]
        refunded = records[cpb.ChannelRecord.KIND_REFUND, refund.refund.refund_id]
        bill = [HEADER, line(payments[0]), line(payments[1]), line(refunded)]
        await _import(recon, channel, day, "\n".join(bill) + "\n")
        await _run(recon, channel, day)
        assert await _refused(recon, merchant_id, day) == f"{channel}: 1 differences open"

        # The difference accepted (written off): the statement is given.
        found = await recon.ListDiscrepancies(
            rpb.ListDiscrepanciesRequest(channel=channel, statement_date=_date(day))
        )
        [short] = found.discrepancies
        assert short.transaction_id == paid[2].payment_id
        await recon.ResolveDiscrepancy(
            rpb.ResolveDiscrepancyRequest(
                discrepancy_id=short.discrepancy_id,
                action=rpb.RESOLUTION_ACTION_WRITE_OFF,
                reason="bank confirmed it in writing",
                approver="finance-lead",
            )
        )
        given = await _statement(recon, merchant_id, day)

    statement = given.statement
    assert (statement.merchant_id, list(statement.channels)) == (merchant_id, [channel])
    assert (statement.payment_count, statement.payment_amount.minor_units) == (3, 13_700)
    assert (statement.refund_count, statement.refund_amount.minor_units) == (1, 4_000)
    # 1% of each payment (100 + 25 + 12), less the refund's share of its payment's fee (40).
    assert statement.fee_amount.minor_units == 137 - 40
    assert statement.net_amount.minor_units == 13_700 - 4_000 - 97
    kinds = [(ln.kind, ln.transaction_id, ln.net.minor_units) for ln in statement.lines]
    assert kinds == [
        (rpb.MerchantStatementLine.KIND_PAYMENT, paid[0].payment_id, 9_900),
        (rpb.MerchantStatementLine.KIND_PAYMENT, paid[1].payment_id, 2_475),
        (rpb.MerchantStatementLine.KIND_PAYMENT, paid[2].payment_id, 1_188),
        (rpb.MerchantStatementLine.KIND_REFUND, refund.refund.refund_id, -3_960),
    ]
    rows = list(csv.reader(io.StringIO(given.csv)))
    assert [row[3] for row in rows[1:5]] == [*(p.payment_id for p in paid), refund.refund.refund_id]
    assert rows[-1][2:] == ["net", "", "", "", "CNY", "", "", "96.03"]

    # Paid from a user's wallet balance: the ledger is that channel's book, there is no bill to
    # reconcile it against, and the statement is still given, with the payment on it.
    async with connect(gateway_addr) as conn:
        gateway = gpb_grpc.GatewayServiceStub(conn)
        for method, purpose, payee in (
            (gpb.PAYMENT_METHOD_BANK_CARD, gpb.PAYMENT_PURPOSE_TOP_UP, demo.MERCHANT_ID),
            (gpb.PAYMENT_METHOD_WALLET_BALANCE, gpb.PAYMENT_PURPOSE_PURCHASE, merchant_id),
        ):
            answer = await gateway.CreatePayment(
                gpb.CreatePaymentRequest(
                    request_id=f"msb-{secrets.token_hex(8)}",
                    merchant_id=payee,
                    merchant_order_no=f"MSB-{secrets.token_hex(6)}",
                    amount=Money(currency_code="CNY", minor_units=1_000),
                    method=method,
                    payer_user_id=card_user,
                    purpose=purpose,
                )
            )
            assert answer.payment.state == gpb.Payment.STATE_SUCCEEDED
    assert await outbox_drained(db)
    async with connect(recon_addr) as conn:
        again = await _statement(rpb_grpc.ReconServiceStub(conn), merchant_id, day)
    assert list(again.statement.channels) == ["balance", channel]
    assert again.statement.lines[-1].transaction_id == answer.payment.payment_id
    assert again.statement.net_amount.minor_units == 13_700 - 4_000 - 97 + 1_000 - 10


async def test_a_statement_request_is_checked(recon_addr: str) -> None:
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await recon.GetMerchantStatement(
                rpb.GetMerchantStatementRequest(merchant_id="", currency_code="XXX")
            )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {name for name, _ in field_violations(caught.value)} == {
        "merchant_id",
        "statement_date",
        "currency_code",
    }
