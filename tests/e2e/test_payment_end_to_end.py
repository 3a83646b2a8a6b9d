"""One payment through real processes: gateway, identity, bank simulator, ledger, recon."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Callable
from datetime import UTC
from zoneinfo import ZoneInfo

import aiohttp
from google.type.date_pb2 import Date
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from devstack import demo
from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.type.v1.money_pb2 import Money
from tests.e2e.payctl_run import MERCHANT, payctl
from tests.helpers import connect, eventually

MERCHANT_ACCOUNT = f"merchant.{demo.MERCHANT_ID}.payable.CNY"


async def _balance(stack: Stack) -> int:
    async with connect(stack.config.addr("ledger")) as channel:
        answer = await lpb_grpc.LedgerServiceStub(channel).GetAccount(
            lpb.GetAccountRequest(account_id=MERCHANT_ACCOUNT)
        )
    return answer.account.balance.minor_units


async def test_every_service_lists_itself_by_reflection(stack: Stack) -> None:
    expected = {
        "gateway": "paysuite.gateway.v1.GatewayService",
        "ledger": "paysuite.ledger.v1.LedgerService",
        "identity": "paysuite.identity.v1.IdentityService",
        "recon": "paysuite.recon.v1.ReconService",
    }
    for service, full_name in expected.items():
        async with connect(stack.config.addr(service)) as channel:
            call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
            response = await call.read()
        names = {s.name for s in response.list_services_response.service}
        assert full_name in names and "grpc.health.v1.Health" in names


async def test_payment_credits_merchant_and_reconciles(stack: Stack) -> None:
    before = await _balance(stack)
    request = gpb.CreatePaymentRequest(
        request_id=f"e2e-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"E2E-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=8888),
        method=gpb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )
    async with connect(stack.config.addr("gateway")) as channel:
        payment = (await gpb_grpc.GatewayServiceStub(channel).CreatePayment(request)).payment
    assert payment.state == gpb.Payment.STATE_SUCCEEDED
    # The gateway's outbox posts the capture to the ledger just after the answer.
    assert await eventually(lambda: _balance(stack), before + 8888) == before + 8888
    log_lines = [
        json.loads(line)
        for line in (stack.config.data_dir / "logs" / "gateway.log").read_text().splitlines()
        if line.startswith("{")
    ]
    settled = [e for e in log_lines if e.get("payment_id") == payment.payment_id]
    assert settled and all(e["trace_id"] == payment.trace_id and e["span_id"] for e in settled)

    # A payment the bank has and we do not: a long item for reconciliation.
    bank = f"http://127.0.0.1:{stack.config.ports['banksim']}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{bank}/_admin/transactions",
            json={
                "out_trade_no": "pay_only_at_bank",
                "amount": 500,
                "currency": "CNY",
                "status": "SUCCESS",
            },
        ) as response,
    ):
        assert response.status in (200, 201)
    day = (
        payment.create_time.ToDatetime()
        .replace(tzinfo=UTC)
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .date()
    )
    async with connect(stack.config.addr("recon")) as channel:
        run = (
            await rpb_grpc.ReconServiceStub(channel).RunReconciliation(
                rpb.RunReconciliationRequest(
                    request_id=f"e2e-rec-{secrets.token_hex(4)}",
                    channel="banksim",
                    statement_date=Date(year=day.year, month=day.month, day=day.day),
                )
            )
        ).run
        found = await rpb_grpc.ReconServiceStub(channel).ListDiscrepancies(
            rpb.ListDiscrepanciesRequest(
                channel="banksim",
                statement_date=Date(year=day.year, month=day.month, day=day.day),
                page_size=1000,
            )
        )
    counts = {c.outcome: c.count for c in run.outcome_counts}
    assert run.state == rpb.ReconciliationRun.STATE_COMPLETED
    assert counts[rpb.MATCH_OUTCOME_MATCHED] >= 1
    payments = {
        (d.outcome, d.transaction_id)
        for d in found.discrepancies
        if d.kind == rpb.TRANSACTION_KIND_PAYMENT
    }
    # The bank's own payment is long, parked in suspense; ours is matched three ways.
    assert (rpb.MATCH_OUTCOME_LONG, "pay_only_at_bank") in payments
    assert not [k for k in payments if k[1] == payment.payment_id]
    assert not [k for k in payments if k[0] == rpb.MATCH_OUTCOME_SHORT]


def _payctl(stack: Stack, as_: str = "operator") -> Callable[..., dict[str, object]]:
    """Runs payctl as a process against the stack, as the identity; its --json answer."""
    return lambda *args: dict(payctl(stack, *args, as_=as_))


def test_payctl_pays_and_reads_balance(stack: Stack) -> None:
    run, shop = _payctl(stack), _payctl(stack, MERCHANT)
    before = run("balance", "--merchant", demo.MERCHANT_ID)["minor_units"]
    paid = shop(
        "pay",
        "--merchant",
        demo.MERCHANT_ID,
        "--user",
        demo.USER_ID,
        "--amount",
        "12.34",
        "--currency",
        "CNY",
    )
    assert paid["state"] == "STATE_SUCCEEDED" and len(str(paid["trace_id"])) == 32
    got = run("payment", "get", str(paid["payment_id"]))
    assert got["payment_id"] == paid["payment_id"]
    attempts = got["attempts"]
    assert isinstance(attempts, list) and len(attempts) == 1
    attempt = attempts[0]
    assert (attempt["channel"], attempt["rule"], attempt["outcome"]) == (
        "banksim",
        "default",
        "OUTCOME_SUCCEEDED",
    )
    assert run("balance", "--merchant", demo.MERCHANT_ID)["minor_units"] == int(str(before)) + 1234
    refunded = shop("refund", str(paid["payment_id"]), "--amount", "2.34", "--reason", "broken")
    assert refunded["state"] == "STATE_SUCCEEDED"
    assert run("balance", "--merchant", demo.MERCHANT_ID)["minor_units"] == int(str(before)) + 1000
    assert run("payment", "query", str(paid["payment_id"]))["state"] == "STATE_SUCCEEDED"
    routes = run("routes")["routes"]
    assert isinstance(routes, list) and any(r["channel"] == "banksim" for r in routes)


def test_payctl_tops_up_the_wallet_by_card_and_pays_from_its_balance(stack: Stack) -> None:
    run, shop = _payctl(stack), _payctl(stack, MERCHANT)
    wallet = ["balance", "--user", demo.USER_ID]
    pay = ["pay", "--merchant", demo.MERCHANT_ID, "--user", demo.USER_ID]
    topped = shop(*pay, "--amount", "20.00", "--top-up")
    assert (topped["state"], topped["purpose"]) == ("STATE_SUCCEEDED", "PAYMENT_PURPOSE_TOP_UP")
    funds = int(str(run(*wallet)["minor_units"]))
    merchant = int(str(run("balance", "--merchant", demo.MERCHANT_ID)["minor_units"]))
    spent = shop(*pay, "--amount", "7.50", "--method", "balance")
    assert (spent["state"], spent["channel"]) == ("STATE_SUCCEEDED", "balance")
    assert run(*wallet)["minor_units"] == funds - 750
    assert run("balance", "--merchant", demo.MERCHANT_ID)["minor_units"] == merchant + 750


def test_payctl_pays_by_wallet_and_closes_an_unpaid_wallet_order(stack: Stack) -> None:
    shop = _payctl(stack, MERCHANT)
    pay = ["pay", "--merchant", demo.MERCHANT_ID, "--user", demo.USER_ID]
    paid = shop(*pay, "--amount", "4.56", "--method", "wechat")
    assert (paid["state"], paid["channel"]) == ("STATE_SUCCEEDED", "wechatsim")

    def dial(faults: dict[str, int]) -> None:
        url = stack.config.simulator_url("alipaysim") + "/_admin/faults"
        request = urllib.request.Request(
            url, json.dumps(faults).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    dial({"accepted_rate": 1, "decide_ms": 600_000})  # the buyer never confirms
    try:
        waiting = shop(*pay, "--amount", "7.00", "--method", "alipay")
        assert waiting["state"] == "STATE_UNKNOWN"
        closed = shop("payment", "close", str(waiting["payment_id"]))
        assert closed["state"] == "STATE_CLOSED"
    finally:
        dial({"accepted_rate": 0})
