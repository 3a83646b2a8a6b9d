"""payctl ledger commands against a canned in-process LedgerService: requests sent, output."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from typer.testing import CliRunner

from payctl.main import app
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.grpc_errors import abort_with, status_for
from paysuite.type.v1 import money_pb2
from tests.unit.canned_grpc import serving_in_thread

Context = grpc.aio.ServicerContext[Any, Any]


def _cny(minor_units: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="CNY", minor_units=minor_units)


def _date(text: str) -> date_pb2.Date:
    year, month, day = (int(part) for part in text.split("-"))
    return date_pb2.Date(year=year, month=month, day=day)


def _account(account_id: str, balance: int) -> lpb.Account:
    return lpb.Account(
        account_id=account_id,
        type=lpb.ACCOUNT_TYPE_LIABILITY,
        currency_code="CNY",
        state=lpb.Account.STATE_ACTIVE,
        balance=_cny(balance),
        available_balance=_cny(balance - 234),
    )


def _totals(kind: lpb.AccountType.ValueType, *units: int) -> lpb.TypeTotals:
    opening, debits, credits, closing = units
    return lpb.TypeTotals(
        type=kind,
        currency_code="CNY",
        opening_minor_units=opening,
        debit_turnover_minor_units=debits,
        credit_turnover_minor_units=credits,
        closing_minor_units=closing,
    )


def _report() -> lpb.DayEndReport:
    """An unbalanced day-end of 2026-11-21 with one difference parked in suspense."""
    difference = lpb.DayEndDifference(
        check="GL_VS_SUBLEDGER",
        account_id="merchant.M1.payable.CNY",
        type=lpb.ACCOUNT_TYPE_LIABILITY,
        difference=_cny(-1),
        suspense_item_id="sus_1",
    )
    return lpb.DayEndReport(
        accounting_date=_date("2026-11-21"),
        accounts=3,
        entries=8,
        trial_balance=[
            _totals(lpb.ACCOUNT_TYPE_ASSET, 10000, 5000, 2000, 13000),
            _totals(lpb.ACCOUNT_TYPE_LIABILITY, -10000, 2000, 5001, -13001),
        ],
        differences=[difference],
    )


TABLE = (
    "CURRENCY  TYPE           OPENING     DEBITS    CREDITS      CLOSING",
    "CNY       ASSET       100.00 CNY  50.00 CNY  20.00 CNY   130.00 CNY",
    "CNY       LIABILITY  -100.00 CNY  20.00 CNY  50.01 CNY  -130.01 CNY",
)


class CannedLedger(lpb_grpc.LedgerServiceServicer):
    """Canned replies for the RPCs payctl calls; records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def ListAccounts(
        self, request: lpb.ListAccountsRequest, context: Context
    ) -> lpb.ListAccountsResponse:
        self.requests.append(request)
        if not request.page_token:
            return lpb.ListAccountsResponse(
                accounts=[_account("merchant.M1.payable.CNY", 1234)], next_page_token="p2"
            )
        return lpb.ListAccountsResponse(accounts=[_account("merchant.M1.pending.CNY", 500)])

    async def ListAccountEntries(
        self, request: lpb.ListAccountEntriesRequest, context: Context
    ) -> lpb.ListAccountEntriesResponse:
        self.requests.append(request)
        entry = lpb.Entry(
            entry_id=41,
            account_id=request.account_id,
            transfer_id="pay_1",
            side=lpb.ENTRY_SIDE_CREDIT,
            amount=_cny(1000),
            balance_after=_cny(1234),
            accounting_date=_date("2026-11-21"),
        )
        return lpb.ListAccountEntriesResponse(entries=[entry], next_page_token="t3")

    async def RunDayCut(
        self, request: lpb.RunDayCutRequest, context: Context
    ) -> lpb.RunDayCutResponse:
        self.requests.append(request)
        return lpb.RunDayCutResponse(
            cut_date=_date("2026-11-21"), business_date=_date("2026-11-22")
        )

    async def RunDayEnd(
        self, request: lpb.RunDayEndRequest, context: Context
    ) -> lpb.RunDayEndResponse:
        self.requests.append(request)
        return lpb.RunDayEndResponse(report=_report())

    async def GetTrialBalance(
        self, request: lpb.GetTrialBalanceRequest, context: Context
    ) -> lpb.GetTrialBalanceResponse:
        self.requests.append(request)
        if request.accounting_date != _date("2026-11-21"):
            code = grpc.StatusCode.INVALID_ARGUMENT
            status = status_for(code, "date is not closed", "DATE_NOT_CLOSED", "ledger.test")
            await abort_with(context, code, status)
        return lpb.GetTrialBalanceResponse(report=_report())

    async def GetBusinessDate(
        self, request: lpb.GetBusinessDateRequest, context: Context
    ) -> lpb.GetBusinessDateResponse:
        self.requests.append(request)
        return lpb.GetBusinessDateResponse(business_date=_date("2026-11-22"))


@pytest.fixture
def ledger() -> Iterator[tuple[str, CannedLedger]]:
    """The canned ledger on 127.0.0.1 in a thread of its own (payctl runs asyncio.run)."""
    # Only the RPCs payctl calls; the generated base answers the rest UNIMPLEMENTED.
    servicer = CannedLedger()  # type: ignore[abstract]
    with serving_in_thread(
        lambda server: lpb_grpc.add_LedgerServiceServicer_to_server(servicer, server)
    ) as address:
        yield address, servicer


def _payctl(address: str, *args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["ledger", *args, "--ledger", address])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def test_accounts_follows_pages_with_the_owner_filter(ledger: tuple[str, CannedLedger]) -> None:
    address, servicer = ledger
    args = ["accounts", "--owner-type", "merchant", "--owner-id", "M1", "--all-pages"]

    one_page, _ = _payctl(address, "accounts")
    out, _ = _payctl(address, *args)

    assert [(r.owner_type, r.owner_id, r.page_token) for r in servicer.requests] == [
        (lpb.OWNER_TYPE_UNSPECIFIED, "", ""),
        (lpb.OWNER_TYPE_MERCHANT, "M1", ""),
        (lpb.OWNER_TYPE_MERCHANT, "M1", "p2"),
    ]
    assert one_page.splitlines()[-1] == "more accounts: use --all-pages"
    assert out.splitlines() == [
        "merchant.M1.payable.CNY LIABILITY CNY balance 12.34 CNY available 10.00 CNY ACTIVE",
        "merchant.M1.pending.CNY LIABILITY CNY balance 5.00 CNY available 2.66 CNY ACTIVE",
    ]
    listed = json.loads(_payctl(address, *args, "--json")[0])
    assert [a["account_id"] for a in listed] == [
        "merchant.M1.payable.CNY",
        "merchant.M1.pending.CNY",
    ]
    assert listed[0]["balance"] == {"currency_code": "CNY", "minor_units": "1234"}


def test_entries_forwards_paging(ledger: tuple[str, CannedLedger]) -> None:
    address, servicer = ledger
    args = ["entries", "merchant.M1.payable.CNY", "--page-size", "2", "--page-token", "t2"]

    out, _ = _payctl(address, *args)

    assert servicer.requests == [
        lpb.ListAccountEntriesRequest(
            account_id="merchant.M1.payable.CNY", page_size=2, page_token="t2"
        )
    ]
    assert out.splitlines() == [
        "41 2026-11-21 C 10.00 CNY after 12.34 CNY transfer pay_1",
        "next page: --page-token t3",
    ]
    data = json.loads(_payctl(address, *args, "--json")[0])
    assert data["next_page_token"] == "t3"
    assert [(e["entry_id"], e["side"]) for e in data["entries"]] == [("41", "ENTRY_SIDE_CREDIT")]


def test_day_cut_sends_the_expected_date_and_a_uuid(ledger: tuple[str, CannedLedger]) -> None:
    address, servicer = ledger

    out, _ = _payctl(address, "day-cut", "--expect", "2026-11-21")
    data = json.loads(_payctl(address, "day-cut", "--json")[0])

    with_expect, without = servicer.requests
    assert with_expect.expected_business_date == _date("2026-11-21")
    assert not without.HasField("expected_business_date")
    assert str(uuid.UUID(with_expect.request_id)) == with_expect.request_id
    assert with_expect.request_id != without.request_id
    assert out.splitlines() == [
        f"request {with_expect.request_id}",
        "cut 2026-11-21, business date now 2026-11-22",
    ]
    assert data["request_id"] == without.request_id
    assert data["business_date"] == {"year": 2026, "month": 11, "day": 22}


def test_day_end_prints_the_report(ledger: tuple[str, CannedLedger]) -> None:
    address, servicer = ledger

    out, _ = _payctl(address, "day-end", "2026-11-21")

    assert servicer.requests == [lpb.RunDayEndRequest(accounting_date=_date("2026-11-21"))]
    lines = out.splitlines()
    assert lines[0] == "day-end 2026-11-21: 3 accounts, 8 entries, balanced no"
    assert lines[1:4] == [f"  {line}" for line in TABLE]
    assert lines[-1] == (
        "difference GL_VS_SUBLEDGER account merchant.M1.payable.CNY type LIABILITY"
        " -0.01 CNY suspense item sus_1"
    )
    assert json.loads(_payctl(address, "day-end", "2026-11-21", "--json")[0])["entries"] == "8"


def test_trial_balance_table_and_error_reason(ledger: tuple[str, CannedLedger]) -> None:
    address, servicer = ledger

    out, _ = _payctl(address, "trial-balance", "2026-11-21")
    refused, err = _payctl(address, "trial-balance", "2026-11-22", code=1)

    assert [r.accounting_date for r in servicer.requests] == [
        _date("2026-11-21"),
        _date("2026-11-22"),
    ]
    assert out.splitlines() == ["trial balance 2026-11-21", *TABLE, "NOT BALANCED"]
    assert refused == ""
    assert err == "error: INVALID_ARGUMENT DATE_NOT_CLOSED: date is not closed\n"


def test_business_date(ledger: tuple[str, CannedLedger]) -> None:
    address, servicer = ledger

    out, _ = _payctl(address, "business-date")

    assert servicer.requests == [lpb.GetBusinessDateRequest()]
    assert out == "business date 2026-11-22, last closed none\n"


@pytest.mark.parametrize("bad", ["2026-02-30", "20261121", "2026-11-21T00:00", "21/11/2026"])
def test_bad_dates_are_refused_before_any_call(ledger: tuple[str, CannedLedger], bad: str) -> None:
    address, servicer = ledger

    _payctl(address, "day-end", bad, code=2)
    _, err = _payctl(address, "day-cut", "--expect", bad, code=2)

    assert "Invalid value for --expect" in err
    assert servicer.requests == []
