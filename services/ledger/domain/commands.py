"""Requests that act on an existing transfer or suspense item: post, void, reverse, clear."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.model import TransferKind, content_digest
from paysuite.money import Money


@dataclass(frozen=True, slots=True)
class PostPending:
    transfer_id: str
    pending_transfer_id: str
    amount: Money | None = None

    kind = TransferKind.POST

    @property
    def linked_id(self) -> str:
        return self.pending_transfer_id

    def content_hash(self) -> str:
        amount = f"{self.amount.currency}{self.amount.minor_units}" if self.amount else "all"
        return content_digest("post", self.pending_transfer_id, amount)


@dataclass(frozen=True, slots=True)
class VoidPending:
    transfer_id: str
    pending_transfer_id: str
    expired: bool = False

    kind = TransferKind.VOID

    @property
    def linked_id(self) -> str:
        return self.pending_transfer_id

    def content_hash(self) -> str:
        return content_digest("void", self.pending_transfer_id, self.expired)


@dataclass(frozen=True, slots=True)
class Reverse:
    transfer_id: str
    reversed_transfer_id: str
    reason: str = ""

    kind = TransferKind.REVERSE

    @property
    def linked_id(self) -> str:
        return self.reversed_transfer_id

    def content_hash(self) -> str:
        return content_digest("reverse", self.reversed_transfer_id, self.reason)


@dataclass(frozen=True, slots=True)
class ClearSuspense:
    transfer_id: str
    item_id: str
    counter_account_id: str
    reason: str
    business_reference: str

    kind = TransferKind.CLEAR

    @property
    def linked_id(self) -> str:
        return self.item_id

    def content_hash(self) -> str:
        return content_digest(
            "clear", self.item_id, self.counter_account_id, self.reason, self.business_reference
        )


@dataclass(frozen=True, slots=True)
class Adjust:
    """Parks a day-end difference in suspense.

    With `books_only_account`, that account's row already shows the amount and only its entries
    lacked it: the adjustment writes the entries and leaves the row, so row and books agree.
    """

    transfer_id: str
    debit_account_id: str
    credit_account_id: str
    amount: Money
    description: str
    books_only_account: str = ""

    kind = TransferKind.ADJUST

    @property
    def linked_id(self) -> str:
        return ""

    def content_hash(self) -> str:
        return content_digest(
            "adjust",
            self.debit_account_id,
            self.credit_account_id,
            self.amount.currency,
            self.amount.minor_units,
            self.books_only_account,
        )


LinkedCommand = PostPending | VoidPending | Reverse | ClearSuspense | Adjust
