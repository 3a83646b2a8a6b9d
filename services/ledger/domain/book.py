"""The functional core of a batch: applies requests in order to locked state, collects effects.

The repository loads and locks what a batch touches, the book decides every outcome in
memory, and the repository writes all effects at once. Each request is all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ledger.domain.commands import (
    Adjust,
    ClearSuspense,
    LinkedCommand,
    PostPending,
    Reverse,
    VoidPending,
)
from ledger.domain.model import (
    Account,
    Posting,
    TransferKind,
    TransferRequest,
    TransferResult,
    TransferState,
    check_postings,
    check_transfer,
    hold_amounts,
)
from ledger.domain.records import EntryRecord, SuspenseItem, SuspenseState, TransferRecord
from paysuite.errors import DomainError, ErrorKind
from paysuite.money import Money

Request = TransferRequest | LinkedCommand


class PartialPostNotAllowed(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PARTIAL_POST_NEEDS_SINGLE_POSTING"


@dataclass(frozen=True, slots=True)
class Outcome:
    transfer_id: str
    result: TransferResult
    accounting_date: date | None = None


def replayed(record: TransferRecord, content_hash: str) -> Outcome:
    """The answer to a request whose id was used before."""
    if record.content_hash != content_hash:
        return Outcome(record.transfer_id, TransferResult.EXISTS_WITH_DIFFERENT_CONTENT)
    if record.result.is_failure:
        return Outcome(record.transfer_id, record.result)
    return Outcome(record.transfer_id, TransferResult.EXISTS, record.accounting_date)


@dataclass
class Book:
    """Locked accounts, transfers and items of one batch, and what the batch changes."""

    accounts: Mapping[str, Account]
    transfers: dict[str, TransferRecord]
    items: dict[str, SuspenseItem]
    accounting_date: date
    now: datetime
    new_transfers: list[TransferRecord] = field(default_factory=list)
    entries: list[EntryRecord] = field(default_factory=list)
    changed_accounts: set[str] = field(default_factory=set)
    changed_transfers: dict[str, TransferRecord] = field(default_factory=dict)
    new_items: list[SuspenseItem] = field(default_factory=list)
    changed_items: dict[str, SuspenseItem] = field(default_factory=dict)

    def apply(self, request: Request) -> Outcome:
        known = self.transfers.get(request.transfer_id)
        if known is not None:
            return replayed(known, request.content_hash())
        match request:
            case TransferRequest():
                return self._transfer(request)
            case PostPending():
                return self._post(request)
            case VoidPending():
                return self._void(request)
            case Reverse():
                return self._reverse(request)
            case ClearSuspense():
                return self._clear(request)
            case Adjust():
                return self._adjust(request)

    # -- requests ---------------------------------------------------------------------------

    def _transfer(self, request: TransferRequest) -> Outcome:
        result = check_transfer(request, self.accounts)
        record = self._record(
            request.transfer_id,
            TransferKind.TRANSFER,
            result,
            request.content_hash(),
            request.postings,
            request.description,
            dict(request.metadata),
        )
        if result is TransferResult.PENDING:
            record.state = TransferState.PENDING
            if request.timeout_seconds:
                record.expires_at = self.now + timedelta(seconds=request.timeout_seconds)
            hold_amounts(request.postings, self.accounts, 1)
            self._touch(request.postings)
        elif result is TransferResult.POSTED:
            self._post_entries(record)
        return self._done(record)

    def _post(self, request: PostPending) -> Outcome:
        pending, result = self._pending(request)
        postings: tuple[Posting, ...] = ()
        if pending is not None and result is TransferResult.POSTED:
            postings, result = self._amounts_to_post(pending, request.amount)
        record = self._record(
            request.transfer_id,
            TransferKind.POST,
            result,
            request.content_hash(),
            postings,
            linked=request.pending_transfer_id,
        )
        if pending is not None and not result.is_failure:
            hold_amounts(pending.postings, self.accounts, -1)
            self._touch(pending.postings)
            self._change(pending, state=TransferState.PENDING_POSTED)
            self._post_entries(record)
        return self._done(record)

    def _void(self, request: VoidPending) -> Outcome:
        pending, result = self._pending(request)
        if request.expired and result is TransferResult.PENDING_EXPIRED:
            result = TransferResult.POSTED
        record = self._record(
            request.transfer_id,
            TransferKind.VOID,
            result,
            request.content_hash(),
            (),
            linked=request.pending_transfer_id,
        )
        if pending is not None and not result.is_failure:
            record.state = TransferState.VOIDED
            hold_amounts(pending.postings, self.accounts, -1)
            self._touch(pending.postings)
            self._change(pending, state=TransferState.VOIDED)
        return self._done(record)

    def _reverse(self, request: Reverse) -> Outcome:
        original = self.transfers.get(request.reversed_transfer_id)
        postings: tuple[Posting, ...] = ()
        if original is None:
            result = TransferResult.TRANSFER_NOT_FOUND
        elif original.reversed_by:
            result = TransferResult.ALREADY_REVERSED
        elif original.state is not TransferState.POSTED or original.kind not in (
            TransferKind.TRANSFER,
            TransferKind.POST,
        ):
            result = TransferResult.NOT_REVERSIBLE
        else:
            postings = tuple(p.swapped() for p in original.postings)
            result = check_postings(postings, self.accounts)
        record = self._record(
            request.transfer_id,
            TransferKind.REVERSE,
            result,
            request.content_hash(),
            postings,
            description=request.reason,
            linked=request.reversed_transfer_id,
        )
        if original is not None and result is TransferResult.POSTED:
            self._change(original, reversed_by=request.transfer_id)
            self._post_entries(record)
        return self._done(record)

    def _clear(self, request: ClearSuspense) -> Outcome:
        item = self.items.get(request.item_id)
        postings: tuple[Posting, ...] = ()
        if item is None:
            result = TransferResult.TRANSFER_NOT_FOUND
        elif item.state is SuspenseState.CLEARED:
            result = TransferResult.ALREADY_CLEARED
        else:
            amount = Money(item.currency, abs(item.amount))
            posting = Posting(item.suspense_account_id, request.counter_account_id, amount)
            postings = (posting if item.amount > 0 else posting.swapped(),)
            result = check_postings(postings, self.accounts)
        record = self._record(
            request.transfer_id,
            TransferKind.CLEAR,
            result,
            request.content_hash(),
            postings,
            description=request.reason,
            linked=request.item_id,
            metadata={"business_reference": request.business_reference},
        )
        if item is not None and result is TransferResult.POSTED:
            item.state = SuspenseState.CLEARED
            item.cleared_by = request.transfer_id
            item.clear_reason = request.reason
            item.business_reference = request.business_reference
            self.changed_items[item.item_id] = item
            self._post_entries(record, opens_items=False)
        return self._done(record)

    def _adjust(self, request: Adjust) -> Outcome:
        posting = Posting(request.debit_account_id, request.credit_account_id, request.amount)
        missing = any(
            a not in self.accounts for a in (posting.debit_account_id, posting.credit_account_id)
        )
        result = TransferResult.ACCOUNT_NOT_FOUND if missing else TransferResult.POSTED
        record = self._record(
            request.transfer_id,
            TransferKind.ADJUST,
            result,
            request.content_hash(),
            (posting,),
            description=request.description,
        )
        if result is TransferResult.POSTED:
            self._post_entries(record, books_only=request.books_only_account)
        return self._done(record)

    # -- helpers ----------------------------------------------------------------------------

    def _pending(
        self, request: PostPending | VoidPending
    ) -> tuple[TransferRecord | None, TransferResult]:
        pending = self.transfers.get(request.pending_transfer_id)
        if pending is None:
            return None, TransferResult.TRANSFER_NOT_FOUND
        match pending.state:
            case TransferState.PENDING:
                pass
            case TransferState.PENDING_POSTED:
                return pending, TransferResult.ALREADY_POSTED
            case TransferState.VOIDED:
                return pending, TransferResult.ALREADY_VOIDED
            case _:
                return pending, TransferResult.NOT_PENDING
        if pending.expires_at is not None and pending.expires_at <= self.now:
            return pending, TransferResult.PENDING_EXPIRED
        return pending, TransferResult.POSTED

    @staticmethod
    def _amounts_to_post(
        pending: TransferRecord, amount: Money | None
    ) -> tuple[tuple[Posting, ...], TransferResult]:
        if amount is None:
            return pending.postings, TransferResult.POSTED
        if len(pending.postings) != 1:
            raise PartialPostNotAllowed("only single-posting pending transfers post in part")
        (only,) = pending.postings
        if amount.currency != only.amount.currency:
            return (), TransferResult.CURRENCY_MISMATCH
        if amount.minor_units > only.amount.minor_units:
            return (), TransferResult.EXCEEDS_PENDING_AMOUNT
        return (Posting(only.debit_account_id, only.credit_account_id, amount),), (
            TransferResult.POSTED
        )

    def _record(
        self,
        transfer_id: str,
        kind: TransferKind,
        result: TransferResult,
        content_hash: str,
        postings: tuple[Posting, ...],
        description: str = "",
        metadata: dict[str, str] | None = None,
        linked: str = "",
    ) -> TransferRecord:
        state = TransferState.FAILED if result.is_failure else TransferState.POSTED
        return TransferRecord(
            transfer_id=transfer_id,
            kind=kind,
            state=state,
            result=result,
            content_hash=content_hash,
            postings=postings if not result.is_failure else (),
            created_at=self.now,
            description=description,
            metadata=metadata or {},
            linked_transfer_id=linked,
        )

    def _done(self, record: TransferRecord) -> Outcome:
        self.transfers[record.transfer_id] = record
        self.new_transfers.append(record)
        return Outcome(record.transfer_id, record.result, record.accounting_date)

    def _touch(self, postings: tuple[Posting, ...]) -> None:
        for posting in postings:
            self.changed_accounts.add(posting.debit_account_id)
            self.changed_accounts.add(posting.credit_account_id)

    def _change(
        self, record: TransferRecord, *, state: TransferState | None = None, reversed_by: str = ""
    ) -> None:
        if state is not None:
            record.state = state
        if reversed_by:
            record.reversed_by = reversed_by
        self.changed_transfers[record.transfer_id] = record

    def _post_entries(
        self, record: TransferRecord, *, opens_items: bool = True, books_only: str = ""
    ) -> None:
        record.accounting_date = day = self.accounting_date
        transfer_id, now, accounts, entries = (
            record.transfer_id,
            self.now,
            self.accounts,
            self.entries,
        )
        self._touch(record.postings)
        for index, posting in enumerate(record.postings):
            units = posting.amount.minor_units
            debit = accounts[posting.debit_account_id]
            credit = accounts[posting.credit_account_id]
            if debit.account_id != books_only:
                debit.debits_posted += units
            if credit.account_id != books_only:
                credit.credits_posted += units
            entries.append(_entry(transfer_id, debit, "D", units, day, now))
            entries.append(_entry(transfer_id, credit, "C", units, day, now))
            if opens_items and (debit.spec.suspense or credit.spec.suspense):
                self._open_items(record, index, posting, debit, credit)

    def _open_items(
        self, record: TransferRecord, index: int, posting: Posting, debit: Account, credit: Account
    ) -> None:
        for account, sign in ((credit, 1), (debit, -1)):
            if account.spec.suspense:
                self.new_items.append(
                    SuspenseItem(
                        item_id=f"{record.transfer_id}:{index}{'C' if sign > 0 else 'D'}",
                        suspense_account_id=account.account_id,
                        currency=posting.amount.currency,
                        amount=sign * posting.amount.minor_units,
                        transfer_id=record.transfer_id,
                        description=record.description,
                        accounting_date=self.accounting_date,
                        created_at=self.now,
                    )
                )


def _entry(
    transfer_id: str, account: Account, side: str, units: int, day: date, now: datetime
) -> EntryRecord:
    """One leg, with the account's balance after it (the account already carries it)."""
    return EntryRecord(
        transfer_id,
        account.account_id,
        side,
        units,
        account.spec.currency,
        account.balance_units,
        day,
        now,
    )
