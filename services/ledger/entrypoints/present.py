"""Ledger domain values to protobuf messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from google.type import date_pb2

from ledger.domain.book import Outcome
from ledger.domain.day_end import DayEndReport
from ledger.domain.model import Account, AccountState, Posting, TransferState
from ledger.domain.records import EntryRecord, SuspenseItem, SuspenseState, TransferRecord
from ledger.domain.sub_accounts import logical_id
from ledger.entrypoints.convert import ACCOUNT_TYPES, OWNER_TYPES, TRANSFER_RESULTS
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.money import Money
from paysuite.runtime.enums import value_of
from paysuite.runtime.protoconv import date_to_proto, money_to_proto, timestamp
from paysuite.type.v1 import money_pb2

TYPES = {v: k for k, v in ACCOUNT_TYPES.items()}
OWNERS = {v: k for k, v in OWNER_TYPES.items()}
ACCOUNT_STATES = {s: value_of(pb.Account.State, s.name) for s in AccountState}
TRANSFER_STATES = {s: value_of(pb.Transfer.State, s.name) for s in TransferState}
ITEM_STATES = {s: value_of(pb.SuspenseItem.State, s.name) for s in SuspenseState}


def transfer_results(outcomes: Sequence[Outcome]) -> pb.CreateTransfersResponse:
    """One result per outcome, in order; a batch shares one date message per date."""
    response = pb.CreateTransfersResponse()
    add = response.results.add
    dates: dict[date, date_pb2.Date] = {}
    for outcome in outcomes:
        day = outcome.accounting_date
        if day is None:
            add(transfer_id=outcome.transfer_id, result=TRANSFER_RESULTS[outcome.result])
            continue
        proto = dates.get(day)
        if proto is None:
            proto = dates[day] = date_to_proto(day)
        add(
            transfer_id=outcome.transfer_id,
            result=TRANSFER_RESULTS[outcome.result],
            accounting_date=proto,
        )
    return response


def account(value: Account) -> pb.Account:
    spec = value.spec
    currency = spec.currency

    def money(units: int) -> money_pb2.Money:
        return money_to_proto(Money(currency, units))

    message = pb.Account(
        account_id=spec.account_id,
        name=spec.name,
        type=TYPES[spec.type],
        currency_code=currency,
        owner_type=OWNERS[spec.owner_type],
        owner_id=spec.owner_id,
        state=ACCOUNT_STATES[value.state],
        debits_must_not_exceed_credits=spec.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=spec.credits_must_not_exceed_debits,
        debits_posted=money(value.debits_posted),
        credits_posted=money(value.credits_posted),
        balance=money_to_proto(value.balance),
        create_time=timestamp(value.created_at),
        debits_pending=money(value.debits_pending),
        credits_pending=money(value.credits_pending),
        available_balance=money_to_proto(value.available),
        overdraft_limit=money(spec.overdraft_limit),
        day_end_balance=money(value.normal(value.day_end_balance)),
        suspense=spec.suspense,
        sub_accounts=spec.sub_accounts,
    )
    if value.day_end_date is not None:
        message.day_end_date.CopyFrom(date_to_proto(value.day_end_date))
    return message


def posting(value: Posting) -> pb.Posting:
    """A posting as its clients know it: on the logical accounts, not their sub-accounts."""
    return pb.Posting(
        debit_account_id=logical_id(value.debit_account_id),
        credit_account_id=logical_id(value.credit_account_id),
        amount=money_to_proto(value.amount),
    )


def transfer(value: TransferRecord) -> pb.Transfer:
    message = pb.Transfer(
        transfer_id=value.transfer_id,
        state=TRANSFER_STATES[value.state],
        result=TRANSFER_RESULTS[value.result],
        postings=[posting(p) for p in value.postings],
        description=value.description,
        metadata=value.metadata,
        linked_transfer_id=value.linked_transfer_id,
        reversed_by_transfer_id=value.reversed_by,
        create_time=timestamp(value.created_at),
    )
    if value.accounting_date is not None:
        message.accounting_date.CopyFrom(date_to_proto(value.accounting_date))
    if value.expires_at is not None:
        message.expire_time.CopyFrom(timestamp(value.expires_at))
    return message


def entry(value: EntryRecord, split: bool = False) -> pb.Entry:
    return pb.Entry(
        entry_id=value.entry_id,
        account_id=logical_id(value.account_id),
        sub_account_id=value.account_id
        if split or logical_id(value.account_id) != value.account_id
        else "",
        transfer_id=value.transfer_id,
        side=pb.ENTRY_SIDE_DEBIT if value.side == "D" else pb.ENTRY_SIDE_CREDIT,
        amount=money_to_proto(Money(value.currency, value.amount)),
        balance_after=money_to_proto(Money(value.currency, value.balance_after)),
        accounting_date=date_to_proto(value.accounting_date),
        create_time=timestamp(value.created_at),
    )


def item(value: SuspenseItem) -> pb.SuspenseItem:
    return pb.SuspenseItem(
        item_id=value.item_id,
        state=ITEM_STATES[value.state],
        suspense_account_id=value.suspense_account_id,
        amount=money_to_proto(Money(value.currency, value.amount)),
        transfer_id=value.transfer_id,
        description=value.description,
        accounting_date=date_to_proto(value.accounting_date),
        cleared_by_transfer_id=value.cleared_by,
        clear_reason=value.clear_reason,
        business_reference=value.business_reference,
        create_time=timestamp(value.created_at),
    )


def report(value: DayEndReport) -> pb.DayEndReport:
    return pb.DayEndReport(
        accounting_date=date_to_proto(value.accounting_date),
        accounts=value.accounts,
        entries=value.entries,
        trial_balance=[
            pb.TypeTotals(
                type=TYPES[t.type],
                currency_code=t.currency,
                opening_minor_units=t.opening,
                debit_turnover_minor_units=t.debit_turnover,
                credit_turnover_minor_units=t.credit_turnover,
                closing_minor_units=t.closing,
            )
            for t in value.trial_balance
        ],
        balanced=value.balanced,
        differences=[
            pb.DayEndDifference(
                check=d.check,
                account_id=d.account_id,
                type=TYPES[d.type] if d.type else pb.ACCOUNT_TYPE_UNSPECIFIED,
                difference=money_to_proto(Money(d.currency, d.amount)),
                suspense_item_id=f"{value.adjustment_id(d)}:0{'C' if d.amount > 0 else 'D'}"
                if d.amount
                else "",
            )
            for d in value.differences
        ],
        complete_time=timestamp(value.completed_at),
    )


def money_in(currency: str, units: int) -> money_pb2.Money:
    return money_to_proto(Money(currency, units))
