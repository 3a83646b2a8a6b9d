"""Reads and writes ledger rows; the only place that knows the SQL shape of accounts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.adapters.tables import accounts, entries, transfers
from ledger.domain.model import (
    Account,
    AccountSpec,
    AccountState,
    AccountType,
    OwnerType,
    TransferRequest,
    TransferResult,
)


def _account(row: Any) -> Account:
    spec = AccountSpec(
        account_id=row.account_id,
        name=row.name,
        type=AccountType(row.type),
        currency=row.currency,
        owner_type=OwnerType(row.owner_type),
        owner_id=row.owner_id,
        debits_must_not_exceed_credits=row.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=row.credits_must_not_exceed_debits,
    )
    return Account(
        spec=spec,
        state=AccountState(row.state),
        debits_posted=row.debits_posted,
        credits_posted=row.credits_posted,
        created_at=row.created_at,
    )


@dataclass(frozen=True, slots=True)
class StoredTransfer:
    """What an earlier attempt with the same id left behind."""

    result: TransferResult
    content_hash: str
    accounting_date: date | None


class LedgerRepository:
    """Accounts, transfers and entries over one connection inside a unit of work."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def insert_account(self, spec: AccountSpec, now: datetime) -> bool:
        """Inserts the account unless its id exists; True when inserted."""
        statement = (
            insert(accounts)
            .values(
                account_id=spec.account_id,
                name=spec.name,
                type=spec.type.value,
                currency=spec.currency,
                owner_type=spec.owner_type.value,
                owner_id=spec.owner_id,
                state=AccountState.ACTIVE.value,
                debits_must_not_exceed_credits=spec.debits_must_not_exceed_credits,
                credits_must_not_exceed_debits=spec.credits_must_not_exceed_debits,
                debits_posted=0,
                credits_posted=0,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["account_id"])
            .returning(accounts.c.account_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def get_account(self, account_id: str) -> Account | None:
        row = (
            await self._conn.execute(select(accounts).where(accounts.c.account_id == account_id))
        ).first()
        return _account(row) if row else None

    async def lock_accounts(self, account_ids: Sequence[str]) -> dict[str, Account]:
        """Locks the rows in id order, so concurrent transfers never deadlock."""
        statement = (
            select(accounts)
            .where(accounts.c.account_id.in_(list(account_ids)))
            .order_by(accounts.c.account_id)
            .with_for_update()
        )
        rows = (await self._conn.execute(statement)).all()
        return {row.account_id: _account(row) for row in rows}

    async def save_totals(self, changed: Iterable[Account]) -> None:
        for account in changed:
            await self._conn.execute(
                update(accounts)
                .where(accounts.c.account_id == account.account_id)
                .values(debits_posted=account.debits_posted, credits_posted=account.credits_posted)
            )

    async def find_transfer(self, transfer_id: str) -> StoredTransfer | None:
        row = (
            await self._conn.execute(
                select(
                    transfers.c.result, transfers.c.content_hash, transfers.c.accounting_date
                ).where(transfers.c.transfer_id == transfer_id)
            )
        ).first()
        if row is None:
            return None
        return StoredTransfer(TransferResult(row.result), row.content_hash, row.accounting_date)

    async def claim_transfer(
        self,
        request: TransferRequest,
        result: TransferResult,
        accounting_date: date | None,
        now: datetime,
    ) -> bool:
        """Records the transfer id with its outcome; False when another writer got there first."""
        statement = (
            insert(transfers)
            .values(
                transfer_id=request.transfer_id,
                result=result.value,
                content_hash=request.content_hash(),
                description=request.description,
                metadata=dict(request.metadata),
                accounting_date=accounting_date,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["transfer_id"])
            .returning(transfers.c.transfer_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def add_entries(
        self, request: TransferRequest, accounting_date: date, now: datetime
    ) -> None:
        rows: list[dict[str, Any]] = []
        for posting in request.postings:
            for side, account_id in (
                ("D", posting.debit_account_id),
                ("C", posting.credit_account_id),
            ):
                rows.append(
                    {
                        "transfer_id": request.transfer_id,
                        "account_id": account_id,
                        "side": side,
                        "amount": posting.amount.minor_units,
                        "currency": posting.amount.currency,
                        "accounting_date": accounting_date,
                        "created_at": now,
                    }
                )
        await self._conn.execute(insert(entries), rows)
