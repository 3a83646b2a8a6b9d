"""What the ledger stores: transfers as vouchers, entries, suspense items."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from ledger.domain.model import Posting, TransferKind, TransferResult, TransferState


@dataclass(slots=True)
class TransferRecord:
    """A transfer as recorded, failed ones included, so a retried id gets the same answer."""

    transfer_id: str
    kind: TransferKind
    state: TransferState
    result: TransferResult
    content_hash: str
    postings: tuple[Posting, ...]
    created_at: datetime
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    accounting_date: date | None = None
    linked_transfer_id: str = ""
    reversed_by: str = ""
    expires_at: datetime | None = None


class EntryRecord(NamedTuple):
    """One leg on one account, with the account's normal-side balance right after it.

    A named tuple: a batch makes two per transfer, and its first eight fields are the
    columns the batch copies into the entries table, in that order.
    """

    transfer_id: str
    account_id: str
    side: str
    amount: int
    currency: str
    balance_after: int
    accounting_date: date
    created_at: datetime
    entry_id: int = 0


class SuspenseState(enum.Enum):
    OPEN = "open"
    CLEARED = "cleared"


@dataclass(slots=True)
class SuspenseItem:
    """Money parked in a suspense account; positive when the suspense account was credited."""

    item_id: str
    suspense_account_id: str
    currency: str
    amount: int
    transfer_id: str
    description: str
    accounting_date: date
    created_at: datetime
    state: SuspenseState = SuspenseState.OPEN
    cleared_by: str = ""
    clear_reason: str = ""
    business_reference: str = ""
