"""Posting use cases: create accounts, and run any batch of requests through the book."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from ledger.domain.book import Book, Outcome, Request
from ledger.domain.commands import Adjust, ClearSuspense, PostPending, Reverse, VoidPending
from ledger.domain.conflicts import WriteConflict
from ledger.domain.model import Account, AccountSpec, CreateAccountResult, TransferRequest
from ledger.domain.sub_accounts import pick
from ledger.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

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


def routed(request: Request, splits: dict[str, int]) -> Request:
    """A transfer to a split account posts to one of its sub-accounts, chosen by its id."""
    if not isinstance(request, TransferRequest) or not splits:
        return request
    if splits.keys().isdisjoint(request.touched):
        return request
    postings = tuple(
        replace(
            p,
            debit_account_id=pick(
                p.debit_account_id, splits.get(p.debit_account_id, 1), request.transfer_id
            ),
            credit_account_id=pick(
                p.credit_account_id, splits.get(p.credit_account_id, 1), request.transfer_id
            ),
        )
        for p in request.postings
    )
    return replace(request, postings=postings)


async def _lock(
    work: UnitOfWork, account_ids: set[str], splits: dict[str, int] | None
) -> dict[str, Account]:
    locked = await work.repo.lock_accounts(account_ids)
    if splits is not None:
        # Learned here, used by the next batches: this one already holds the main row.
        splits.update(
            {a: acc.spec.sub_accounts for a, acc in locked.items() if acc.spec.sub_accounts > 1}
        )
    return locked


async def execute(
    uow: UnitOfWorkFactory,
    requests: Sequence[Request],
    clock: Clock,
    splits: dict[str, int] | None = None,
) -> list[Outcome]:
    """Runs the requests in order in one transaction; each is all-or-nothing on its own.

    A batch that loses a race for a new transfer id to another batch is retried whole: the
    retry sees the other batch's transfers and answers them as replays. So is one Postgres
    chose to break a deadlock with.
    """
    for attempt in range(_RETRIES):
        try:
            # First try optimistically, without looking ids up: fresh ids are the common case,
            # and a reused id makes the insert conflict, which sends us round with lookups.
            batch = [routed(r, splits) for r in requests] if splits is not None else requests
            return await _execute_once(uow, batch, clock, look_up=attempt > 0, splits=splits)
        except WriteConflict:
            # A deadlock is possible only against a pipelined write (PostingPipeline), whose
            # checked update takes its rows in plan order, not ours.
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _execute_once(
    uow: UnitOfWorkFactory,
    requests: Sequence[Request],
    clock: Clock,
    *,
    look_up: bool,
    splits: dict[str, int] | None = None,
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
            accounts=await _lock(work, accounts, splits),
            transfers={**linked, **known},
            items=items,
            accounting_date=day,
            now=clock(),
        )
        outcomes = [book.apply(request) for request in requests]
        await work.repo.write(book)
        await work.commit()
    return outcomes
