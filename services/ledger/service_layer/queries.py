"""Read-side use cases: accounts, transfers, history, balances as of a past point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ledger.domain.model import Account, OwnerType
from ledger.domain.records import EntryRecord, SuspenseItem, SuspenseState, TransferRecord
from ledger.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import AccountNotFound, NotFound


class TransferNotFound(NotFound):
    reason = "TRANSFER_NOT_FOUND"


class SuspenseItemNotFound(NotFound):
    reason = "SUSPENSE_ITEM_NOT_FOUND"


@dataclass(frozen=True, slots=True)
class BalanceAsOf:
    balance: int
    last_entry_id: int


async def get_account(uow: UnitOfWorkFactory, account_id: str) -> Account:
    async with uow() as work:
        account = await work.repo.get_account(account_id)
    if account is None:
        raise AccountNotFound("account not found", metadata={"account_id": account_id})
    return account


async def list_accounts(
    uow: UnitOfWorkFactory, owner_type: OwnerType | None, owner_id: str, after: str, limit: int
) -> list[Account]:
    async with uow() as work:
        return await work.repo.list_accounts(owner_type, owner_id, after, limit)


async def get_transfer(uow: UnitOfWorkFactory, transfer_id: str) -> TransferRecord:
    async with uow() as work:
        record = await work.repo.get_transfer(transfer_id)
    if record is None:
        raise TransferNotFound("transfer not found", metadata={"transfer_id": transfer_id})
    return record


async def list_entries(
    uow: UnitOfWorkFactory, account_id: str, after_entry_id: int, limit: int
) -> tuple[list[EntryRecord], bool]:
    async with uow() as work:
        if await work.repo.get_account(account_id) is None:
            raise AccountNotFound("account not found", metadata={"account_id": account_id})
        rows = await work.repo.sub_accounts_of(account_id)
        return await work.repo.list_entries(rows, after_entry_id, limit), len(rows) > 1


async def entries_of_date(
    uow: UnitOfWorkFactory, account_id: str, day: date, batch: int
) -> AsyncIterator[tuple[list[EntryRecord], bool]]:
    """The account's entries of the date (a split account's sub-accounts' too), a batch at a
    time, oldest first, each batch with whether the account is split. Accounting dates never
    decrease along entry ids, so the scan starts after the last entry of the day before."""
    async with uow() as work:
        if await work.repo.get_account(account_id) is None:
            raise AccountNotFound("account not found", metadata={"account_id": account_id})
        rows = await work.repo.sub_accounts_of(account_id)
        before = [await work.repo.last_entry_by_date(r, day - timedelta(days=1)) for r in rows]
    after = min((e.entry_id if e else 0) for e in before)
    while True:
        async with uow() as work:
            found = await work.repo.entries_of_date(rows, day, after, batch)
        if not found:
            return
        yield found, len(rows) > 1
        after = found[-1].entry_id


async def balance_as_of(
    uow: UnitOfWorkFactory, account_id: str, at: date | datetime
) -> BalanceAsOf:
    """The running balance after the account's last entry at or before the point (for a split
    account, the sum over its sub-accounts)."""
    balance, last = 0, 0
    async with uow() as work:
        if await work.repo.get_account(account_id) is None:
            raise AccountNotFound("account not found", metadata={"account_id": account_id})
        for row in await work.repo.sub_accounts_of(account_id):
            if isinstance(at, datetime):
                entry = await work.repo.last_entry_by_time(row, at)
            else:
                entry = await work.repo.last_entry_by_date(row, at)
            if entry is not None:
                balance += entry.balance_after
                last = max(last, entry.entry_id)
    return BalanceAsOf(balance, last)


async def business_date(uow: UnitOfWorkFactory) -> tuple[date, date | None]:
    async with uow() as work:
        return await work.repo.ledger_state()


async def list_items(
    uow: UnitOfWorkFactory,
    state: SuspenseState | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[SuspenseItem]:
    async with uow() as work:
        return await work.repo.list_items(state, after, limit)


async def get_item(uow: UnitOfWorkFactory, item_id: str) -> SuspenseItem:
    async with uow() as work:
        item = await work.repo.get_item(item_id)
    if item is None:
        raise SuspenseItemNotFound("suspense item not found", metadata={"item_id": item_id})
    return item
