"""payctl ledger commands: accounts, entries, day-cut, day-end, trial-balance, business-date."""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from google.type import date_pb2

from payctl.common import JsonOption, LedgerOption, connect, run
from payctl.output import message_dict
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.money import CurrencyError, Money
from paysuite.runtime.enums import short_name
from paysuite.type.v1 import money_pb2

ledger_app = typer.Typer(
    help="The double-entry ledger: accounts, entries, day-end.", no_args_is_help=True
)

R = TypeVar("R")

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class OwnerKind(StrEnum):
    """Owner types accepted by --owner-type."""

    merchant = "merchant"
    user = "user"
    channel = "channel"
    platform = "platform"


def _ledger(address: str, rpc: Callable[[lpb_grpc.LedgerServiceAsyncStub], Awaitable[R]]) -> R:
    """Opens a channel to the ledger, runs rpc with a stub, prints failures with their reason."""

    async def call() -> R:
        async with connect(address) as channel:
            return await rpc(lpb_grpc.LedgerServiceStub(channel))

    return run(call)


def _print(data: Any, as_json: bool, human: Callable[[], str]) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2) if as_json else human()
    sys.stdout.write(text + "\n")


def parse_date(text: str, param_hint: str) -> date_pb2.Date:
    """A strict YYYY-MM-DD calendar date as google.type.Date; BadParameter otherwise."""
    try:
        if not _DATE_RE.fullmatch(text):
            raise ValueError("expected YYYY-MM-DD")
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: {exc}", param_hint=param_hint) from None
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def format_date(value: date_pb2.Date, unset: str = "-") -> str:
    if not (value.year or value.month or value.day):
        return unset
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def format_units(minor_units: int, currency: str) -> str:
    try:
        return Money(currency, minor_units).format()
    except CurrencyError:
        return f"{minor_units} minor units {currency or '?'}"


def format_money(value: money_pb2.Money, currency: str = "") -> str:
    """Formats a Money message; an unset one counts as zero of currency."""
    return format_units(value.minor_units, value.currency_code or currency)


def _type_name(value: lpb.AccountType.ValueType) -> str:
    return short_name(lpb.AccountType, value)


def _account_line(account: lpb.Account) -> str:
    currency = account.currency_code
    return (
        f"{account.account_id} {_type_name(account.type)} {currency} "
        f"balance {format_money(account.balance, currency)} "
        f"available {format_money(account.available_balance, currency)} "
        f"{short_name(lpb.Account.State, account.state)}"
    )


def _side(side: lpb.EntrySide.ValueType) -> str:
    return {lpb.ENTRY_SIDE_DEBIT: "D", lpb.ENTRY_SIDE_CREDIT: "C"}.get(side, "?")


def _entry_line(entry: lpb.Entry) -> str:
    return (
        f"{entry.entry_id} {format_date(entry.accounting_date)} "
        f"{_side(entry.side)} {format_money(entry.amount)} "
        f"after {format_money(entry.balance_after)} transfer {entry.transfer_id}"
    )


def _trial_balance_lines(report: lpb.DayEndReport) -> list[str]:
    header = ["CURRENCY", "TYPE", "OPENING", "DEBITS", "CREDITS", "CLOSING"]
    rows = [
        [
            row.currency_code,
            _type_name(row.type),
            *(
                format_units(units, row.currency_code)
                for units in (
                    row.opening_minor_units,
                    row.debit_turnover_minor_units,
                    row.credit_turnover_minor_units,
                    row.closing_minor_units,
                )
            ),
        ]
        for row in report.trial_balance
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]


@ledger_app.command()
def accounts(
    owner_type: Annotated[OwnerKind | None, typer.Option(help="only this owner type")] = None,
    owner_id: Annotated[str, typer.Option(help="only this owner id")] = "",
    all_pages: Annotated[bool, typer.Option("--all-pages", help="follow every page")] = False,
    ledger: LedgerOption = "localhost:50052",
    as_json: JsonOption = False,
) -> None:
    """Lists accounts with their balances."""
    request = lpb.ListAccountsRequest(
        owner_type=lpb.OwnerType.Value(f"OWNER_TYPE_{owner_type.name.upper()}")
        if owner_type
        else lpb.OWNER_TYPE_UNSPECIFIED,
        owner_id=owner_id,
    )

    async def rpc(stub: lpb_grpc.LedgerServiceAsyncStub) -> tuple[list[lpb.Account], str]:
        found: list[lpb.Account] = []
        while True:
            page = await stub.ListAccounts(request, timeout=10)
            found.extend(page.accounts)
            if not (all_pages and page.next_page_token):
                return found, page.next_page_token
            request.page_token = page.next_page_token

    listed, next_token = _ledger(ledger, rpc)

    def human() -> str:
        lines = [_account_line(a) for a in listed] or ["no accounts"]
        if next_token:
            lines.append("more accounts: use --all-pages")
        return "\n".join(lines)

    _print([message_dict(a) for a in listed], as_json, human)


@ledger_app.command()
def entries(
    account_id: str,
    page_size: Annotated[int, typer.Option(min=0, max=1000, help="0 means 100")] = 0,
    page_token: Annotated[str, typer.Option(help="token from a previous page")] = "",
    ledger: LedgerOption = "localhost:50052",
    as_json: JsonOption = False,
) -> None:
    """Lists an account's entries, oldest first, with the balance after each."""
    request = lpb.ListAccountEntriesRequest(
        account_id=account_id, page_size=page_size, page_token=page_token
    )

    async def rpc(stub: lpb_grpc.LedgerServiceAsyncStub) -> lpb.ListAccountEntriesResponse:
        return await stub.ListAccountEntries(request, timeout=10)

    page = _ledger(ledger, rpc)

    def human() -> str:
        lines = [_entry_line(e) for e in page.entries] or ["no entries"]
        if page.next_page_token:
            lines.append(f"next page: --page-token {page.next_page_token}")
        return "\n".join(lines)

    data = {
        "entries": [message_dict(e) for e in page.entries],
        "next_page_token": page.next_page_token,
    }
    _print(data, as_json, human)


@ledger_app.command("day-cut")
def day_cut(
    expect: Annotated[
        str | None, typer.Option(help="refuse unless the business date is this YYYY-MM-DD")
    ] = None,
    ledger: LedgerOption = "localhost:50052",
    as_json: JsonOption = False,
) -> None:
    """Moves the business date to the next day."""
    request = lpb.RunDayCutRequest(request_id=str(uuid.uuid4()))
    if expect is not None:
        request.expected_business_date.CopyFrom(parse_date(expect, "--expect"))

    async def rpc(stub: lpb_grpc.LedgerServiceAsyncStub) -> lpb.RunDayCutResponse:
        return await stub.RunDayCut(request, timeout=30)

    cut = _ledger(ledger, rpc)
    _print(
        {"request_id": request.request_id, **message_dict(cut)},
        as_json,
        lambda: (
            f"request {request.request_id}\n"
            f"cut {format_date(cut.cut_date)}, business date now {format_date(cut.business_date)}"
        ),
    )


def _report_lines(report: lpb.DayEndReport) -> list[str]:
    lines = [
        f"day-end {format_date(report.accounting_date)}: {report.accounts} accounts, "
        f"{report.entries} entries, balanced {'yes' if report.balanced else 'no'}",
        *(f"  {line}" for line in _trial_balance_lines(report)),
    ]
    lines += [
        f"difference {d.check} account {d.account_id or '-'} type {_type_name(d.type)} "
        f"{format_money(d.difference)} suspense item {d.suspense_item_id or '-'}"
        for d in report.differences
    ]
    return lines


@ledger_app.command("day-end")
def day_end(
    accounting_date: Annotated[str, typer.Argument(help="the cut date to close, YYYY-MM-DD")],
    ledger: LedgerOption = "localhost:50052",
    as_json: JsonOption = False,
) -> None:
    """Closes a cut accounting date and prints its report."""
    request = lpb.RunDayEndRequest(accounting_date=parse_date(accounting_date, "ACCOUNTING_DATE"))

    async def rpc(stub: lpb_grpc.LedgerServiceAsyncStub) -> lpb.RunDayEndResponse:
        return await stub.RunDayEnd(request, timeout=300)

    report = _ledger(ledger, rpc).report
    _print(message_dict(report), as_json, lambda: "\n".join(_report_lines(report)))


@ledger_app.command("trial-balance")
def trial_balance(
    accounting_date: Annotated[str, typer.Argument(help="a closed date, YYYY-MM-DD")],
    ledger: LedgerOption = "localhost:50052",
    as_json: JsonOption = False,
) -> None:
    """Shows the trial balance of a closed accounting date."""
    request = lpb.GetTrialBalanceRequest(
        accounting_date=parse_date(accounting_date, "ACCOUNTING_DATE")
    )

    async def rpc(stub: lpb_grpc.LedgerServiceAsyncStub) -> lpb.GetTrialBalanceResponse:
        return await stub.GetTrialBalance(request, timeout=30)

    report = _ledger(ledger, rpc).report

    def human() -> str:
        lines = [f"trial balance {format_date(report.accounting_date)}"]
        lines += _trial_balance_lines(report)
        lines.append("balanced" if report.balanced else "NOT BALANCED")
        return "\n".join(lines)

    _print(message_dict(report), as_json, human)


@ledger_app.command("business-date")
def business_date(ledger: LedgerOption = "localhost:50052", as_json: JsonOption = False) -> None:
    """Shows the current business date and the last closed date."""

    async def rpc(stub: lpb_grpc.LedgerServiceAsyncStub) -> lpb.GetBusinessDateResponse:
        return await stub.GetBusinessDate(lpb.GetBusinessDateRequest(), timeout=10)

    dates = _ledger(ledger, rpc)
    _print(
        message_dict(dates),
        as_json,
        lambda: (
            f"business date {format_date(dates.business_date)}, "
            f"last closed {format_date(dates.last_closed_date, 'none')}"
        ),
    )
