"""Row <-> domain conversions for the ledger tables."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.model import (
    Account,
    AccountSpec,
    AccountState,
    AccountType,
    OwnerType,
    Posting,
    TransferKind,
    TransferResult,
    TransferState,
    postings_text,
)
from ledger.domain.records import EntryRecord, SuspenseItem, SuspenseState, TransferRecord
from paysuite.money import Money

ACCOUNT_COLUMNS = (
    "account_id, name, type, currency, owner_type, owner_id, state, "
    "debits_must_not_exceed_credits, credits_must_not_exceed_debits, overdraft_limit, suspense, "
    "debits_posted, credits_posted, debits_pending, credits_pending, day_end_balance, "
    "day_end_date, created_at, sub_accounts"
)
TRANSFER_COLUMNS = (
    "transfer_id, kind, state, result, content_hash, postings, description, metadata, "
    "accounting_date, linked_transfer_id, reversed_by, expires_at, created_at"
)
ENTRY_COLUMNS = (
    "entry_id, transfer_id, account_id, side, amount, currency, balance_after, accounting_date, "
    "created_at"
)
ITEM_COLUMNS = (
    "item_id, suspense_account_id, currency, amount, transfer_id, description, accounting_date, "
    "state, cleared_by, clear_reason, business_reference, created_at"
)


_ACCOUNT_TYPES = {t.value: t for t in AccountType}
_OWNER_TYPES = {t.value: t for t in OwnerType}
_ACCOUNT_STATES = {s.value: s for s in AccountState}


def account_spec(row: Any) -> AccountSpec:
    return AccountSpec(
        account_id=row["account_id"],
        name=row["name"],
        type=_ACCOUNT_TYPES[row["type"]],
        currency=row["currency"],
        owner_type=_OWNER_TYPES[row["owner_type"]],
        owner_id=row["owner_id"],
        debits_must_not_exceed_credits=row["debits_must_not_exceed_credits"],
        credits_must_not_exceed_debits=row["credits_must_not_exceed_debits"],
        overdraft_limit=row["overdraft_limit"],
        suspense=row["suspense"],
        sub_accounts=row["sub_accounts"],
    )


def account(row: Any, spec: AccountSpec | None = None) -> Account:
    """An account row; `spec` may be given when already known (a spec never changes)."""
    return Account(
        spec if spec is not None else account_spec(row),
        _ACCOUNT_STATES[row["state"]],
        row["debits_posted"],
        row["credits_posted"],
        row["debits_pending"],
        row["credits_pending"],
        row["day_end_balance"],
        row["day_end_date"],
        row["created_at"],
    )


def encode_postings(postings: tuple[Posting, ...]) -> str:
    # Account ids are [A-Za-z0-9._:-] only, so ',' and ';' cannot occur inside a field.
    return postings_text(postings)


def decode_postings(text: str) -> tuple[Posting, ...]:
    if not text:
        return ()
    postings = []
    for leg in text.split(";"):
        debit, credit, currency, units = leg.split(",")
        postings.append(Posting(debit, credit, Money(currency, int(units))))
    return tuple(postings)


def transfer(row: Any) -> TransferRecord:
    metadata = row["metadata"]
    return TransferRecord(
        transfer_id=row["transfer_id"],
        kind=TransferKind(row["kind"]),
        state=TransferState(row["state"]),
        result=TransferResult(row["result"]),
        content_hash=row["content_hash"],
        postings=decode_postings(row["postings"]),
        created_at=row["created_at"],
        description=row["description"],
        metadata=json.loads(metadata) if isinstance(metadata, str) else dict(metadata),
        accounting_date=row["accounting_date"],
        linked_transfer_id=row["linked_transfer_id"],
        reversed_by=row["reversed_by"],
        expires_at=row["expires_at"],
    )


def entry(row: Any) -> EntryRecord:
    return EntryRecord(
        transfer_id=row["transfer_id"],
        account_id=row["account_id"],
        side=row["side"],
        amount=row["amount"],
        currency=row["currency"],
        balance_after=row["balance_after"],
        accounting_date=row["accounting_date"],
        created_at=row["created_at"],
        entry_id=row["entry_id"],
    )


def item(row: Any) -> SuspenseItem:
    return SuspenseItem(
        item_id=row["item_id"],
        suspense_account_id=row["suspense_account_id"],
        currency=row["currency"],
        amount=row["amount"],
        transfer_id=row["transfer_id"],
        description=row["description"],
        accounting_date=row["accounting_date"],
        created_at=row["created_at"],
        state=SuspenseState(row["state"]),
        cleared_by=row["cleared_by"],
        clear_reason=row["clear_reason"],
        business_reference=row["business_reference"],
    )
