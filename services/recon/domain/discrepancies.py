"""Discrepancies: differences a run found, parked in the channel's suspense account (挂账), and
resolved (核销) by a business action that clears the suspense item. No I/O.

A discrepancy parks its signed suspense amount: positive when the channel holds more than our
books say (the receivable is debited and suspense credited), negative when less. Resolving it
moves the parked money to the account the action names: back to the channel's receivable (a
refund of a long item, or a later bill that matches), to the merchant (a supplementary order,
补单: we book the payment the channel took), or to the platform's write-off account (with a
reason and an approver).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from paysuite import accounts
from paysuite.errors import DomainError, ErrorKind, InvalidArgument, NotFound
from recon.domain.matching import (
    BillItem,
    Finding,
    Kind,
    LedgerItem,
    OurItem,
    Outcome,
)

# Which open items come back into every later run: those missing a side, which a later bill
# (or a late posting) can still match.
RETURNING = frozenset({Outcome.LONG, Outcome.SHORT, Outcome.LEDGER_MISMATCH})


def suspense_account(channel: str, currency: str) -> str:
    """Where a channel's reconciliation differences are parked until resolved (suspense)."""
    return f"channel.{channel}.suspense.{currency}"


def write_off_account(currency: str) -> str:
    """Where written-off differences end (expense; a written-off long item is a gain)."""
    return f"platform.recon_write_off.{currency}"


class DiscrepancyState(enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"


class Action(enum.Enum):
    REFUND = "refund"
    SUPPLEMENTARY_ORDER = "supplementary_order"
    WRITE_OFF = "write_off"
    MATCHED_LATER = "matched_later"  # a later run matched it: only runs resolve this way


class DiscrepancyNotFound(NotFound):
    """No discrepancy with this id."""


class DiscrepancyResolved(DomainError):
    """Resolved already, by another action."""

    kind = ErrorKind.FAILED_PRECONDITION


class ActionNotAllowed(DomainError):
    """The action does not explain this discrepancy (e.g. a refund of a short item)."""

    kind = ErrorKind.FAILED_PRECONDITION


@dataclass(frozen=True, slots=True)
class Resolution:
    action: Action
    reason: str
    approver: str
    business_reference: str
    counter_account_id: str
    resolved_at: datetime
    resolved_on: date


@dataclass(frozen=True, slots=True)
class Discrepancy:
    discrepancy_id: str
    channel: str
    statement_date: date
    run_id: str
    finding: Finding
    created_at: datetime
    last_run_id: str = ""
    posted: bool = False
    state: DiscrepancyState = DiscrepancyState.OPEN
    resolution: Resolution | None = None

    @property
    def outcome(self) -> Outcome:
        return self.finding.outcome

    @property
    def currency(self) -> str:
        return self.finding.currency

    @property
    def suspense_amount(self) -> int:
        return self.finding.suspense_amount

    @property
    def merchant_id(self) -> str:
        return self.finding.ours.merchant_id if self.finding.ours else ""

    @property
    def suspense_transfer_id(self) -> str:
        """The transfer that parks it: one per discrepancy, so posted once however often the
        day is run."""
        return f"recon:{self.discrepancy_id}:park"

    @property
    def suspense_item_id(self) -> str:
        """The ledger's item for the transfer's one posting (credited or debited suspense)."""
        return f"{self.suspense_transfer_id}:0{'C' if self.suspense_amount > 0 else 'D'}"

    @property
    def clearing_transfer_id(self) -> str:
        return f"recon:{self.discrepancy_id}:clear"

    @property
    def receivable(self) -> str:
        return accounts.channel_receivable(self.channel, self.currency)

    @property
    def suspense(self) -> str:
        return suspense_account(self.channel, self.currency)

    def parking(self) -> tuple[str, str, int]:
        """(debit, credit, amount) of the parking transfer."""
        amount = self.suspense_amount
        if amount > 0:
            return self.receivable, self.suspense, amount
        return self.suspense, self.receivable, -amount

    @property
    def returns(self) -> bool:
        """Whether it comes back into later runs while open (to resolve when it matches)."""
        return self.state is DiscrepancyState.OPEN and self.outcome in RETURNING


def discrepancy(
    channel: str, day: date, run_id: str, finding: Finding, now: datetime
) -> Discrepancy:
    return Discrepancy(
        finding.discrepancy_id(channel), channel, day, run_id, finding, now, last_run_id=run_id
    )


@dataclass(frozen=True, slots=True)
class Resolve:
    """A business action on an open discrepancy."""

    discrepancy_id: str
    action: Action
    reason: str
    approver: str = ""
    business_reference: str = ""
    merchant_id: str = ""


def resolution(
    found: Discrepancy, command: Resolve, now: datetime, today: date
) -> Resolution | None:
    """How the action resolves the discrepancy; None when it resolved it already (the same
    action again). Refuses an action that does not explain it."""
    if found.resolution is not None:
        if found.resolution.action is command.action:
            return None
        raise DiscrepancyResolved(
            "the discrepancy is resolved already",
            metadata={"action": found.resolution.action.value},
        )
    amount = found.suspense_amount
    match command.action:
        case Action.REFUND:
            if amount <= 0:
                raise ActionNotAllowed(
                    "a refund resolves only money the channel holds for us (a long item)",
                    metadata={"outcome": found.outcome.value},
                )
            counter = found.receivable
        case Action.SUPPLEMENTARY_ORDER:
            merchant = command.merchant_id or found.merchant_id
            if amount <= 0 or found.finding.kind is not Kind.PAYMENT:
                raise ActionNotAllowed(
                    "a supplementary order books a payment the channel took (a long item)",
                    metadata={"outcome": found.outcome.value},
                )
            if not merchant:
                raise InvalidArgument(
                    [], "the gateway has no record of the payment: name its merchant_id"
                )
            counter = accounts.merchant_payable(merchant, found.currency)
        case Action.WRITE_OFF:
            if not command.approver:
                raise InvalidArgument([], "a write-off needs its approver")
            counter = write_off_account(found.currency)
        case Action.MATCHED_LATER:
            counter = found.receivable
    return Resolution(
        command.action,
        command.reason,
        command.approver,
        command.business_reference,
        counter,
        now,
        today,
    )


def resolved(found: Discrepancy, how: Resolution) -> Discrepancy:
    return replace(found, state=DiscrepancyState.RESOLVED, resolution=how)


AGES = ((1, "0-1 days"), (7, "2-7 days"), (30, "8-30 days"))


def age_bucket(found_on: date, today: date) -> str:
    """An open item's age as the aging report groups it."""
    days = (today - found_on).days
    return next((label for limit, label in AGES if days <= limit), "over 30 days")


def items_json(finding: Finding) -> dict[str, Any]:
    """A finding's items, to bring back into a later run."""

    def plain(item: BillItem | OurItem | LedgerItem | None) -> dict[str, Any] | None:
        if item is None:
            return None
        values = {name: getattr(item, name) for name in item.__slots__}
        values["kind"] = item.kind.value
        return values

    return {
        "outcome": finding.outcome.value,
        "kind": finding.kind.value,
        "key": finding.key,
        "duplicate_rank": finding.duplicate_rank,
        "bill": plain(finding.bill),
        "ours": plain(finding.ours),
        "ledger": plain(finding.ledger),
    }


def finding_from_json(data: dict[str, Any]) -> Finding:
    def item(cls: Any, values: dict[str, Any] | None) -> Any:
        return None if values is None else cls(**{**values, "kind": Kind(values["kind"])})

    return Finding(
        Outcome(data["outcome"]),
        Kind(data["kind"]),
        data["key"],
        item(BillItem, data["bill"]),
        item(OurItem, data["ours"]),
        item(LedgerItem, data["ledger"]),
        data["duplicate_rank"],
    )
