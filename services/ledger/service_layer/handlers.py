"""Ledger use cases: create accounts, post transfers, read an account."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ledger.adapters.repository import StoredTransfer
from ledger.domain.model import (
    Account,
    AccountSpec,
    CreateAccountResult,
    TransferRequest,
    TransferResult,
    apply_transfer,
    check_transfer,
)
from ledger.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import NotFound

ACCOUNTING_ZONE = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    transfer_id: str
    result: TransferResult
    accounting_date: date | None


class AccountNotFound(NotFound):
    reason = "ACCOUNT_NOT_FOUND"


async def create_accounts(
    uow: UnitOfWorkFactory, specs: Sequence[AccountSpec], clock: Clock
) -> list[CreateAccountResult]:
    """Creates each account unless it exists; all in one transaction."""
    results: list[CreateAccountResult] = []
    async with uow() as work:
        now = clock()
        for spec in specs:
            if await work.repo.insert_account(spec, now):
                results.append(CreateAccountResult.CREATED)
                continue
            existing = await work.repo.get_account(spec.account_id)
            same = existing is not None and existing.spec == spec
            results.append(
                CreateAccountResult.EXISTS
                if same
                else CreateAccountResult.EXISTS_WITH_DIFFERENT_FIELDS
            )
        await work.commit()
    return results


def _replayed(request: TransferRequest, stored: StoredTransfer) -> TransferOutcome:
    if stored.content_hash != request.content_hash():
        return TransferOutcome(
            request.transfer_id, TransferResult.EXISTS_WITH_DIFFERENT_CONTENT, None
        )
    if stored.result is TransferResult.POSTED:
        return TransferOutcome(request.transfer_id, TransferResult.EXISTS, stored.accounting_date)
    return TransferOutcome(request.transfer_id, stored.result, None)


async def create_transfer(
    uow: UnitOfWorkFactory, request: TransferRequest, clock: Clock
) -> TransferOutcome:
    """Posts one transfer, or records why it cannot post; replays return the first outcome."""
    async with uow() as work:
        stored = await work.repo.find_transfer(request.transfer_id)
        if stored is not None:
            return _replayed(request, stored)
        accounts = await work.repo.lock_accounts(request.account_ids)
        result = check_transfer(request, accounts)
        now = clock()
        accounting_date = now.astimezone(ACCOUNTING_ZONE).date()
        posted_on = accounting_date if result is TransferResult.POSTED else None
        if not await work.repo.claim_transfer(request, result, posted_on, now):
            await work.rollback()
            raced = await work.repo.find_transfer(request.transfer_id)
            assert raced is not None
            return _replayed(request, raced)
        if result is TransferResult.POSTED:
            apply_transfer(request, accounts)
            await work.repo.save_totals(accounts.values())
            await work.repo.add_entries(request, accounting_date, now)
        await work.commit()
    return TransferOutcome(request.transfer_id, result, posted_on)


async def create_transfers(
    uow: UnitOfWorkFactory, requests: Sequence[TransferRequest], clock: Clock
) -> list[TransferOutcome]:
    """Each transfer is all-or-nothing on its own; outcomes come back in request order."""
    return [await create_transfer(uow, request, clock) for request in requests]


async def get_account(uow: UnitOfWorkFactory, account_id: str) -> Account:
    async with uow() as work:
        account = await work.repo.get_account(account_id)
    if account is None:
        raise AccountNotFound("account not found", metadata={"account_id": account_id})
    return account
