"""Every RPC answers bad input with INVALID_ARGUMENT naming the fields, and writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date

from paysuite.gateway.v1 import gateway_service_pb2 as gw
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from paysuite.identity.v1 import identity_service_pb2 as idt
from paysuite.identity.v1 import identity_service_pb2_grpc as idt_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as led
from paysuite.ledger.v1 import ledger_service_pb2_grpc as led_grpc
from paysuite.recon.v1 import funds_service_pb2 as fund
from paysuite.recon.v1 import funds_service_pb2_grpc as fund_grpc
from paysuite.recon.v1 import recon_service_pb2 as rec
from paysuite.recon.v1 import recon_service_pb2_grpc as rec_grpc
from paysuite.runtime.grpc_errors import error_info, error_reason, field_violations
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect

TABLES = [
    "gateway.payments",
    "gateway.outbox",
    "ledger.accounts",
    "ledger.transfers",
    "ledger.entries",
    "identity.users",
    "identity.cards",
    "recon.runs",
]


@dataclass(frozen=True)
class Case:
    service: str
    method: str
    request: Any
    fields: set[str]
    stub: Callable[[grpc.aio.Channel], Any] | None = None  # the service's main stub unless given


CASES = [
    Case(
        "gateway",
        "CreatePayment",
        gw.CreatePaymentRequest(
            request_id="r-bad-1",
            merchant_id="M100001",
            merchant_order_no="",
            amount=Money(currency_code="cny", minor_units=-5),
            payer_user_id="U100001",
        ),
        {"merchant_order_no", "amount.currency_code", "method"},
    ),
    Case(
        "gateway",
        "CreatePayment",
        gw.CreatePaymentRequest(
            request_id="r-bad-2",
            merchant_id="M100001",
            merchant_order_no="O-bad",
            amount=Money(currency_code="CNY", minor_units=0),
            payer_user_id="U100001",
            method=gw.PAYMENT_METHOD_BANK_CARD,
        ),
        {"amount.minor_units"},
    ),
    Case(
        "gateway",
        "CreatePayment",
        gw.CreatePaymentRequest(
            merchant_id="M 1",
            merchant_order_no="O-bad",
            payer_user_id="U100001",
            method=gw.PAYMENT_METHOD_BANK_CARD,
        ),
        {"request_id", "merchant_id", "amount"},
    ),
    Case("gateway", "GetPayment", gw.GetPaymentRequest(payment_id=""), {"payment_id"}),
    Case(
        "gateway",
        "ListChannelTransactions",
        gw.ListChannelTransactionsRequest(
            channel="banksim", accounting_date=Date(year=2026, month=2, day=30), page_size=-1
        ),
        {"accounting_date", "page_size"},
    ),
    Case(
        "ledger",
        "CreateAccounts",
        led.CreateAccountsRequest(
            accounts=[
                led.AccountSpec(
                    account_id="ok.1",
                    name="x",
                    type=led.ACCOUNT_TYPE_ASSET,
                    currency_code="CNY",
                    owner_type=led.OWNER_TYPE_PLATFORM,
                ),
                led.AccountSpec(account_id="bad id", name="", currency_code="XXX"),
            ]
        ),
        {
            "accounts[1].account_id",
            "accounts[1].name",
            "accounts[1].type",
            "accounts[1].owner_type",
            "accounts[1].currency_code",
        },
    ),
    Case("ledger", "CreateAccounts", led.CreateAccountsRequest(), {"accounts"}),
    Case(
        "ledger",
        "CreateTransfers",
        led.CreateTransfersRequest(
            transfers=[
                led.TransferSpec(
                    transfer_id="t.bad",
                    postings=[
                        led.Posting(
                            debit_account_id="a",
                            credit_account_id="a",
                            amount=Money(currency_code="CNY", minor_units=1),
                        )
                    ],
                ),
                led.TransferSpec(transfer_id="t.bad", postings=[]),
            ]
        ),
        {
            "transfers[0].postings[0].credit_account_id",
            "transfers[1].transfer_id",
            "transfers[1].postings",
        },
    ),
    Case("ledger", "GetAccount", led.GetAccountRequest(), {"account_id"}),
    Case(
        "ledger",
        "CreateTransfers",
        led.CreateTransfersRequest(
            transfers=[
                led.TransferSpec(
                    transfer_id="t.timeout",
                    timeout_seconds=5,
                    postings=[
                        led.Posting(
                            debit_account_id="a",
                            credit_account_id="b",
                            amount=Money(currency_code="CNY", minor_units=1),
                        )
                    ],
                )
            ]
        ),
        {"transfers[0].timeout_seconds"},
    ),
    Case(
        "ledger",
        "PostPendingTransfer",
        led.PostPendingTransferRequest(amount=Money(currency_code="CNY", minor_units=-1)),
        {"transfer_id", "pending_transfer_id", "amount.minor_units"},
    ),
    Case(
        "ledger",
        "VoidPendingTransfer",
        led.VoidPendingTransferRequest(transfer_id="v 1"),
        {"transfer_id", "pending_transfer_id"},
    ),
    Case(
        "ledger",
        "ReverseTransfer",
        led.ReverseTransferRequest(transfer_id="r.1", reversed_transfer_id="t.1"),
        {"reason"},
    ),
    Case("ledger", "ListAccounts", led.ListAccountsRequest(page_size=-1), {"page_size"}),
    Case(
        "ledger",
        "ListAccountEntries",
        led.ListAccountEntriesRequest(account_id="a.1", page_token="%%%"),
        {"page_token"},
    ),
    Case("ledger", "GetBalanceAsOf", led.GetBalanceAsOfRequest(account_id="a.1"), {"as_of"}),
    Case("ledger", "GetTransfer", led.GetTransferRequest(), {"transfer_id"}),
    Case("ledger", "RunDayCut", led.RunDayCutRequest(), {"request_id"}),
    Case("ledger", "RunDayEnd", led.RunDayEndRequest(), {"accounting_date"}),
    Case(
        "ledger",
        "GetTrialBalance",
        led.GetTrialBalanceRequest(accounting_date=Date(year=2026, month=4, day=31)),
        {"accounting_date"},
    ),
    Case("ledger", "ListSuspenseItems", led.ListSuspenseItemsRequest(page_size=-5), {"page_size"}),
    Case(
        "ledger",
        "ClearSuspenseItem",
        led.ClearSuspenseItemRequest(
            transfer_id="c.1", item_id="i.1", counter_account_id="a.1", reason="REFUND"
        ),
        {"business_reference"},
    ),
    Case(
        "identity",
        "RegisterUser",
        idt.RegisterUserRequest(
            request_id="reg-bad", name="X1", id_number="110105194912310021", phone="2380013800"
        ),
        {"name", "id_number", "phone"},
    ),
    Case("identity", "GetUser", idt.GetUserRequest(user_id="x" * 40), {"user_id"}),
    Case(
        "identity",
        "DowngradeTier",
        idt.DowngradeTierRequest(
            request_id=uuid.uuid4().hex,
            user_id="U100001",
            tier=99,  # type: ignore[arg-type]
            reason="fuzzed",
        ),
        {"tier"},
    ),
    Case(
        "ledger",
        "GetBalanceAsOf",
        led.GetBalanceAsOfRequest(account_id="a", time=Timestamp(seconds=-(2**62))),
        {"time"},
    ),
    Case(
        "identity",
        "CheckPaymentEligibility",
        idt.CheckPaymentEligibilityRequest(user_id="U100001"),
        {"amount"},
    ),
    Case(
        "recon",
        "RunReconciliation",
        # A missing request_id is refused before the request is read further (the request-id
        # store's check; tests/integration/test_request_ids.py).
        rec.RunReconciliationRequest(
            request_id="bad-date",
            channel="banksim",
            statement_date=Date(year=2026, month=13, day=1),
        ),
        {"statement_date"},
    ),
    Case(
        "recon",
        "ReconcileReserveAccount",
        fund.ReconcileReserveAccountRequest(statement_date=Date(year=1, month=1, day=1)),
        {"statement_date"},
        fund_grpc.FundsServiceStub,
    ),
]

STUBS: dict[str, Callable[[grpc.aio.Channel], Any]] = {
    "gateway": gw_grpc.GatewayServiceStub,
    "ledger": led_grpc.LedgerServiceStub,
    "identity": idt_grpc.IdentityServiceStub,
    "recon": rec_grpc.ReconServiceStub,
}


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.service}.{c.method}")
async def test_bad_input_is_rejected_with_field_violations(
    case: Case,
    db: asyncpg.Connection,
    gateway_addr: str,
    ledger_addr: str,
    identity_addr: str,
    recon_addr: str,
) -> None:
    addresses = {
        "gateway": gateway_addr,
        "ledger": ledger_addr,
        "identity": identity_addr,
        "recon": recon_addr,
    }
    before = await _counts(db)
    async with connect(addresses[case.service]) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            stub = (case.stub or STUBS[case.service])(channel)
            await getattr(stub, case.method)(case.request)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {field for field, _ in field_violations(caught.value)} == case.fields
    info = error_info(caught.value)
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_INVALID_ARGUMENT
    assert info is not None
    assert info.domain == f"{case.service}.paysuite"
    assert await _counts(db) == before


async def test_entry_feed_rejects_a_bad_position(ledger_addr: str) -> None:
    async with connect(ledger_addr) as channel:
        call = led_grpc.LedgerServiceStub(channel).WatchEntries(
            led.WatchEntriesRequest(after_position="nope")
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(caught.value)] == ["after_position"]


async def test_statement_stream_rejects_bad_date(gateway_addr: str) -> None:
    async with connect(gateway_addr) as channel:
        call = gw_grpc.GatewayServiceStub(channel).FetchChannelStatement(
            gw.FetchChannelStatementRequest(channel="banksim")
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(caught.value)] == ["statement_date"]
