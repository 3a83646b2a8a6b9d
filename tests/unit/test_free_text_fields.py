"""Free-text fields of every service (descriptions, reasons, names, remarks) refuse control
characters: a NUL, which Postgres text cannot hold, answered INTERNAL; now INVALID_ARGUMENT on
the field, before anything is written. Chinese text's ideographic space and emoji stay allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.entrypoints import convert as gateway_convert
from ledger.entrypoints import convert as ledger_convert
from paysuite.errors import InvalidArgument, Violations
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.type.v1.money_pb2 import Money
from recon.entrypoints import convert as recon_convert

CONTROL = ["\x00", "note\x00", "two\nlines", "tab\there", "c1\x85"]
ALLOWED = ["咖啡\u3000两杯", "family \U0001f468\u200d\U0001f469\u200d\U0001f467", "plain"]
YUAN = Money(currency_code="CNY", minor_units=100)


def _text(value: str, *, required: bool = False, at_most: int = 20) -> list[str]:
    violations = Violations()
    violations.text(value, "note", at_most=at_most, required=required)
    return [] if not violations else ["note"]


@pytest.mark.parametrize("value", CONTROL)
def test_control_characters_are_refused(value: str) -> None:
    assert _text(value) == ["note"]


@pytest.mark.parametrize("value", ALLOWED)
def test_chinese_spaces_and_emoji_are_text(value: str) -> None:
    assert _text(value) == []


def test_length_and_blank_are_checked_as_before() -> None:
    assert _text("x" * 21) == ["note"]
    assert _text("x" * 20) == []
    assert _text("", required=True) == ["note"]
    assert _text("  ", required=True) == ["note"]
    assert _text("") == []


def _payment(description: str) -> gpb.CreatePaymentRequest:
    return gpb.CreatePaymentRequest(
        request_id="req-1",
        merchant_id="M1",
        merchant_order_no="order-1",
        payer_user_id="usr_1",
        amount=YUAN,
        method=gpb.PAYMENT_METHOD_BANK_CARD,
        purpose=gpb.PAYMENT_PURPOSE_PURCHASE,
        description=description,
    )


def _transfer(description: str) -> lpb.CreateTransfersRequest:
    posting = lpb.Posting(debit_account_id="a.1", credit_account_id="b.1", amount=YUAN)
    return lpb.CreateTransfersRequest(
        transfers=[lpb.TransferSpec(transfer_id="t1", postings=[posting], description=description)]
    )


def _account(name: str) -> lpb.CreateAccountsRequest:
    return lpb.CreateAccountsRequest(
        accounts=[
            lpb.AccountSpec(
                account_id="a.1",
                name=name,
                type=lpb.ACCOUNT_TYPE_ASSET,
                currency_code="CNY",
                owner_type=lpb.OWNER_TYPE_PLATFORM,
                owner_id="platform",
            )
        ]
    )


# Each: the converter, a request with the text in its free-text field, that field's name.
CASES: dict[str, tuple[Callable[[Any], Any], Callable[[str], Any], str]] = {
    "payment description": (gateway_convert.create_command, _payment, "description"),
    "refund reason": (
        gateway_convert.refund_command,
        lambda text: gpb.RefundPaymentRequest(
            request_id="req-2", payment_id="pay_1", amount=YUAN, reason=text
        ),
        "reason",
    ),
    "transfer description": (
        ledger_convert.transfer_requests,
        _transfer,
        "transfers[0].description",
    ),
    "account name": (ledger_convert.account_specs, _account, "accounts[0].name"),
    "reversal reason": (
        ledger_convert.reverse,
        lambda text: lpb.ReverseTransferRequest(
            transfer_id="t2", reversed_transfer_id="t1", reason=text
        ),
        "reason",
    ),
    "discrepancy resolution reason": (
        recon_convert.resolve_command,
        lambda text: rpb.ResolveDiscrepancyRequest(
            discrepancy_id="d1", action=rpb.RESOLUTION_ACTION_REFUND, reason=text
        ),
        "reason",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_services_free_text_refuses_a_nul_and_takes_chinese_text(case: str) -> None:
    read, request, field = CASES[case]
    read(request("咖啡\u3000两杯"))  # a valid request otherwise
    with pytest.raises(InvalidArgument) as caught:
        read(request("bad\x00text"))
    assert [v.field for v in caught.value.violations] == [field]
