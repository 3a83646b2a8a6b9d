"""Posting use cases: create accounts, and run any batch of requests through the book."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg

from ledger.domain.book import Book, Outcome, Request
from ledger.domain.commands import Adjust, ClearSuspense, PostPending, Reverse, VoidPending
from ledger.domain.model import AccountSpec, CreateAccountResult, TransferRequest
from ledger.service_layer.unit_of_work import UnitOfWorkFactory

Clock = Callable[[], datetime]

_RETRIES = 5


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


async def execute(
    uow: UnitOfWorkFactory, requests: Sequence[Request], clock: Clock
) -> list[Outcome]:
    """Runs the requests in order in one transaction; each is all-or-nothing on its own.

    A batch that loses a race for a new transfer id to another batch is retried whole: the
    retry sees the other batch's transfers and answers them as replays.
    """
    for attempt in range(_RETRIES):
        try:
            # First try optimistically, without looking ids up: fresh ids are the common case,
            # and a reused id makes the insert conflict, which sends us round with lookups.
            return await _execute_once(uow, requests, clock, look_up=attempt > 0)
        except asyncpg.UniqueViolationError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _execute_once(
    uow: UnitOfWorkFactory, requests: Sequence[Request], clock: Clock, *, look_up: bool
) -> list[Outcome]:
    async with uow() as work:
        day = await work.repo.business_date_for_posting()
        known = await work.repo.find_transfers([r.transfer_id for r in requests]) if look_up else {}
        fresh = [r for r in requests if r.transfer_id not in known]
        linked_ids = [
            r.linked_id for r in fresh if isinstance(r, PostPending | VoidPending | Reverse)
        ]
        linked = await work.repo.find_transfers(linked_ids, lock=True)
        items = await work.repo.lock_items(
            [r.item_id for r in fresh if isinstance(r, ClearSuspense)]
        )
        accounts: set[str] = set()
        for request in fresh:
            match request:
                case TransferRequest():
                    accounts.update(request.account_ids)
                case PostPending() | VoidPending() | Reverse():
                    if (target := linked.get(request.linked_id)) is not None:
                        accounts.update(
                            a
                            for p in target.postings
                            for a in (p.debit_account_id, p.credit_account_id)
                        )
                case ClearSuspense():
                    accounts.add(request.counter_account_id)
                    if (item := items.get(request.item_id)) is not None:
                        accounts.add(item.suspense_account_id)
                case Adjust():
                    accounts.update((request.debit_account_id, request.credit_account_id))
        book = Book(
            accounts=await work.repo.lock_accounts(accounts),
            transfers={**linked, **known},
            items=items,
            accounting_date=day,
            now=clock(),
        )
        outcomes = [book.apply(request) for request in requests]
        await work.repo.write(book)
        await work.commit()
    return outcomes
