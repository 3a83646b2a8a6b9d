"""Hot accounts split into sub-accounts behind one logical account.

Postings to a split account land on one sub-account chosen from the transfer id, so
concurrent transfers lock different rows; the logical account's totals add them all up.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from ledger.domain.model import Account

SEPARATOR = "~"  # never valid in a client-chosen account id


def sub_account_ids(account_id: str, count: int) -> list[str]:
    """The logical row first (sub-account 0), then "<id>~1" .. "<id>~<count-1>"."""
    return [account_id, *(f"{account_id}{SEPARATOR}{k}" for k in range(1, count))]


def logical_id(account_id: str) -> str:
    return account_id.split(SEPARATOR, 1)[0]


def pick(account_id: str, count: int, transfer_id: str) -> str:
    """The sub-account a transfer posts to: stable for the transfer, spread across transfers."""
    if count <= 1:
        return account_id
    return sub_account_ids(account_id, count)[zlib.crc32(transfer_id.encode()) % count]


def combined(rows: Sequence[Account]) -> Account:
    """The logical account: the first row's identity with every sub-account's totals."""
    first = rows[0]
    return Account(
        spec=first.spec,
        state=first.state,
        debits_posted=sum(r.debits_posted for r in rows),
        credits_posted=sum(r.credits_posted for r in rows),
        debits_pending=sum(r.debits_pending for r in rows),
        credits_pending=sum(r.credits_pending for r in rows),
        day_end_balance=sum(r.day_end_balance for r in rows),
        day_end_date=first.day_end_date,
        created_at=first.created_at,
    )
