"""Pipelined posting: decide the next batch while Postgres writes the one before it.

Each batch of plain transfers is decided in memory on the totals the batches before it will
leave (a per-process prediction of the account rows), then written in decision order. Its
rows are inserted as soon as the batch before has inserted its own (while that one may still
be committing); its account totals are written only after the batch before it committed, and
only if every account row it read still holds exactly the totals and state the decision
assumed, on the same business date (one checked UPDATE). Anything else (another
process posted, an account was frozen, a day-cut, a reused transfer id, a failed batch before
it) rolls the batch back, forgets the prediction and runs the batch through the locking path,
which decides on locked rows as every other posting does. The prediction only saves time:
what commits was decided on the rows as they are when it commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from opentelemetry import trace

from ledger.domain.book import Book, Outcome, Request
from ledger.domain.conflicts import StoreRefused
from ledger.domain.model import Account, Totals, TransferRequest
from ledger.service_layer import transfers
from ledger.service_layer.group_commit import SMALL_REQUEST
from ledger.service_layer.transfers import Clock
from ledger.service_layer.unit_of_work import LedgerUnits
from paysuite.runtime import span_attributes as attrs

# Batches decided ahead of the one being written; more only deepens what a failure undoes.
DEPTH = 2
# Span attribute: "predicted" (committed as decided), "fallback" (the prediction was stale, the
# locking path decided again) or "locking" (not a batch of plain transfers).
PATH_ATTRIBUTE = attrs.POSTING_PATH
# Accounts predicted at most; past this the prediction starts again from the rows.
MAX_ACCOUNTS = 200_000


@dataclass(frozen=True)
class _Step:
    """A written batch's milestones: its rows inserted, then its transaction committed. The
    next batch inserts after the first (so entry ids follow the order of decisions, and with
    them every account's running balance) and checks totals after the second."""

    inserted: asyncio.Future[bool]
    committed: asyncio.Future[bool]

    @staticmethod
    def new() -> _Step:
        loop = asyncio.get_running_loop()
        return _Step(loop.create_future(), loop.create_future())

    def end(self, committed: bool) -> None:
        for milestone in (self.inserted, self.committed):
            if not milestone.done():
                milestone.set_result(committed)


@dataclass(frozen=True)
class _Decided:
    book: Book
    outcomes: list[Outcome]
    account_ids: list[str]
    before: list[Totals]
    after: list[Totals]
    previous: _Step | None
    step: _Step


class PostingPipeline:
    """The posting path of one ledger process. Requests other than plain transfers, and any
    batch the prediction cannot vouch for, take the locking path."""

    def __init__(self, units: LedgerUnits, clock: Clock, depth: int = DEPTH) -> None:
        self._units = units
        self._clock = clock
        self._slots = asyncio.Semaphore(depth)
        self._accounts: dict[str, Account] = {}
        self._day: date | None = None
        self._last: _Step | None = None
        # Large batches that take the locking path take it one at a time: they touch most
        # accounts, so concurrent ones serialise on row locks anyway, and one that waited makes
        # Postgres re-check every locked row the other changed (docs/benchmarks.md).
        self._locking_lane = asyncio.Lock()
        self.fallbacks = 0

    async def run(self, requests: Sequence[Request]) -> list[Outcome]:
        """The outcomes of the requests, in order; the current span records the path taken."""
        span = trace.get_current_span()
        plain = [r for r in requests if isinstance(r, TransferRequest)]
        if len(plain) != len(requests):
            span.set_attribute(PATH_ATTRIBUTE, "locking")
            try:
                return await self._locking(requests)
            finally:
                self.forget()
        async with self._slots:
            decided = await self._decide(plain)
            if decided is None:
                span.set_attribute(PATH_ATTRIBUTE, "locking")
                return await self._locking(requests)
            committed = False
            try:
                committed = await self._write(decided)
            finally:
                decided.step.end(committed)
                if not committed:
                    self.forget()
        if committed:
            span.set_attribute(PATH_ATTRIBUTE, "predicted")
            return decided.outcomes
        self.fallbacks += 1
        span.set_attribute(PATH_ATTRIBUTE, "fallback")
        return await self._locking(requests)

    def forget(self) -> None:
        """Drops the prediction; the next batch starts again from the committed rows, so it
        no longer waits for the batches decided before (each is checked on its own)."""
        self._accounts = {}
        self._day = None
        self._last = None

    async def _locking(self, requests: Sequence[Request]) -> list[Outcome]:
        if len(requests) <= SMALL_REQUEST:
            return await self._execute(requests)
        async with self._locking_lane:
            return await self._execute(requests)

    async def _execute(self, requests: Sequence[Request]) -> list[Outcome]:
        return await transfers.execute(
            self._units.posting_batch, requests, self._clock, splits=self._units.splits
        )

    async def _decide(self, requests: list[TransferRequest]) -> _Decided | None:
        splits = self._units.splits
        batch = [transfers.routed(r, splits) for r in requests]
        account_ids = sorted(
            {a for r in batch if isinstance(r, TransferRequest) for a in r.touched}
        )
        if not await self._know(account_ids):
            return None
        # Nothing awaits from here on: the decision, its snapshots and its place in the chain
        # are one step, so no other batch decides in between.
        accounts, day = self._accounts, self._day
        assert day is not None
        before = [accounts[a].totals() for a in account_ids]
        book = Book(
            accounts=accounts, transfers={}, items={}, accounting_date=day, now=self._clock()
        )
        outcomes = [book.apply(r) for r in batch]
        after = [accounts[a].totals() for a in account_ids]
        previous, self._last = self._last, _Step.new()
        return _Decided(book, outcomes, account_ids, before, after, previous, self._last)

    async def _know(self, account_ids: list[str]) -> bool:
        """Loads the accounts not predicted yet; False when one does not exist."""
        missing = [a for a in account_ids if a not in self._accounts]
        if not missing and self._day is not None:
            return True
        if len(self._accounts) + len(missing) > MAX_ACCOUNTS:
            self.forget()
            missing = account_ids
        async with self._units.postings() as work:
            rows = await work.repo.read_accounts(missing)
            day, _ = await work.repo.ledger_state()
        if self._day is None:
            self._day = day
        for account_id, account in rows.items():
            self._accounts.setdefault(account_id, account)
            if account.spec.sub_accounts > 1:
                self._units.splits[account_id] = account.spec.sub_accounts
        return self._day is not None and all(a in self._accounts for a in account_ids)

    async def _write(self, decided: _Decided) -> bool:
        previous = decided.previous
        # Waited for before BEGIN, which takes the business date shared: holding it while the
        # batch before has yet to take it could leave both behind a day-cut waiting for it.
        if previous is not None and not await previous.inserted:
            return False
        try:
            async with self._units.posting_batch() as work:
                repo, book = work.repo, decided.book
                checked = (decided.account_ids, decided.after, decided.before, book.accounting_date)
                if previous is None or previous.committed.done():
                    # The batch before has settled: insert and check in one round trip.
                    if previous is not None and not previous.committed.result():
                        return False
                    written = await repo.insert_records_and_update_totals_if(book, *checked)
                    decided.step.inserted.set_result(True)
                else:
                    await repo.insert_records(book)
                    decided.step.inserted.set_result(True)
                    # The totals are checked against the rows as the batch before left them:
                    # wait for its commit, so that this statement's snapshot includes it.
                    written = await previous.committed and await repo.update_totals_if(*checked)
                if not written:
                    return False
                await work.commit()
        except StoreRefused:
            # A reused transfer id, mostly, or a deadlock with a locking batch: the locking
            # path looks ids up and answers replays. Had a failed COMMIT in fact committed,
            # the same lookup answers EXISTS and posts nothing twice.
            return False
        return True
