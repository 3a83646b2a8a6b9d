"""Clearing and settlement rules (清结算): a merchant's settings, what a trade date clears to,
when it is due, what is held back, and what one payout on a settlement date pays.

A trade date's net (payments - refunds - fees + adjustments) is cleared out of the merchant's
payable into its amount to settle; a rolling reserve of it is held back until its release
date; on the settlement date (T+N business days, or D+0 advanced by the platform) everything
due is moved to settling and paid out in one payout per merchant, currency and date, when it
reaches the minimum. Every ledger transfer is named after the merchant and the date it
settles, so a run again books nothing twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from paysuite.errors import DomainError, ErrorKind, NotFound
from recon.domain.settlement_calendar import BusinessCalendar

BPS_PER_UNIT = 10_000
DEFAULT_CYCLE_DAYS = 1


class ReconciliationNotClean(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "RECONCILIATION_NOT_CLEAN"


class SettlementBatchNotFound(NotFound):
    reason = "SETTLEMENT_BATCH_NOT_FOUND"


class SettlementPayoutNotFound(NotFound):
    reason = "SETTLEMENT_PAYOUT_NOT_FOUND"


class PayoutNotRetryable(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "SETTLEMENT_PAYOUT_NOT_RETRYABLE"


@dataclass(frozen=True, slots=True)
class SettlementSettings:
    merchant_id: str
    currency: str = "CNY"
    cycle_days: int = DEFAULT_CYCLE_DAYS
    advance: bool = False  # D+0: paid on the trade date with funds the platform advances
    minimum_payout: int = 0
    reserve_bps: int = 0
    reserve_days: int = 0
    account_no: str = ""
    account_name: str = ""
    updated_at: datetime | None = None

    @property
    def has_account(self) -> bool:
        return bool(self.account_no and self.account_name)

    @property
    def masked_account(self) -> str:
        return "****" + self.account_no[-4:] if self.account_no else ""

    def settlement_date(self, trade_date: date, calendar: BusinessCalendar) -> date:
        """D+0 is the trade date itself (calendar days); T+N counts business days."""
        if self.advance:
            return trade_date
        return calendar.add_business_days(trade_date, self.cycle_days)

    def reserve_of(self, net: int) -> int:
        """The rolling reserve held back of a date's net (nothing of a net that is not owed)."""
        return max(net, 0) * self.reserve_bps // BPS_PER_UNIT

    def release_date(self, settlement_date: date) -> date | None:
        return settlement_date + timedelta(days=self.reserve_days) if self.reserve_bps else None


@dataclass(frozen=True, slots=True)
class MerchantTotals:
    """What a merchant's records of one trade date add up to, in one currency."""

    merchant_id: str
    currency: str
    payments: int = 0
    payments_count: int = 0
    refunds: int = 0
    refunds_count: int = 0
    fees: int = 0
    adjustments: int = 0
    # What the platform's coupons paid of the payments less what went back to them with the
    # refunds: part of payments (and net), paid from the platform's own funds.
    coupons: int = 0

    @property
    def net(self) -> int:
        return self.payments - self.refunds - self.fees + self.adjustments

    def with_payment(self, amount: int, fee: int, coupon: int = 0) -> MerchantTotals:
        """A payment of the order amount (the coupon's part included)."""
        return replace(
            self,
            payments=self.payments + amount,
            payments_count=self.payments_count + 1,
            fees=self.fees + fee,
            coupons=self.coupons + coupon,
        )

    def with_refund(self, amount: int, fee_back: int, coupon_back: int = 0) -> MerchantTotals:
        """A refund of the order amount (the coupon's share included)."""
        return replace(
            self,
            refunds=self.refunds + amount,
            refunds_count=self.refunds_count + 1,
            fees=self.fees - fee_back,
            coupons=self.coupons - coupon_back,
        )

    def with_adjustment(self, amount: int) -> MerchantTotals:
        return replace(self, adjustments=self.adjustments + amount)


@dataclass(frozen=True, slots=True)
class ChannelTotals:
    """What a channel owes for one trade date, net of its fees."""

    channel: str
    currency: str
    payments: int = 0
    refunds: int = 0
    fees: int = 0

    @property
    def net(self) -> int:
        return self.payments - self.refunds - self.fees


class LineState(enum.Enum):
    SCHEDULED = "scheduled"  # its settlement date has not come
    HELD = "held"  # due, but below the minimum or without an account: carried
    IN_PAYOUT = "in_payout"


@dataclass(frozen=True, slots=True)
class SettlementLine:
    batch_id: str
    totals: MerchantTotals
    trade_date: date
    settlement_date: date
    reserve_held: int
    reserve_release_date: date | None
    advanced: bool
    state: LineState = LineState.SCHEDULED
    reserve_released: bool = False
    paid_on: date | None = None  # the settlement date of the payout that pays it

    @property
    def merchant_id(self) -> str:
        return self.totals.merchant_id

    @property
    def currency(self) -> str:
        return self.totals.currency

    @property
    def to_pay(self) -> int:
        """What the line adds to its payout: its net less the reserve held back."""
        return self.totals.net - self.reserve_held

    def reserve_due(self, on: date) -> bool:
        return (
            self.reserve_held > 0
            and not self.reserve_released
            and self.reserve_release_date is not None
            and self.reserve_release_date <= on
        )


class BatchState(enum.Enum):
    CLEARING = "clearing"  # lines made, not all booked in the ledger yet
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class SettlementBatch:
    batch_id: str
    trade_date: date
    state: BatchState
    created_at: datetime
    updated_at: datetime


def batch_id_of(trade_date: date) -> str:
    return f"stb_{trade_date:%Y%m%d}"


def clear(
    batch_id: str,
    trade_date: date,
    totals: MerchantTotals,
    settings: SettlementSettings,
    calendar: BusinessCalendar,
) -> SettlementLine:
    """A merchant's line of a cleared trade date: when it is due and what is held back."""
    settles_on = settings.settlement_date(trade_date, calendar)
    reserve = settings.reserve_of(totals.net)
    return SettlementLine(
        batch_id,
        totals,
        trade_date,
        settles_on,
        reserve,
        settings.release_date(settles_on) if reserve else None,
        settings.advance,
    )


class PayoutState(enum.Enum):
    PENDING = "pending"  # booked; the gateway not asked yet
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETURNED = "returned"

    @property
    def retryable(self) -> bool:
        return self in (PayoutState.FAILED, PayoutState.RETURNED)

    @property
    def open(self) -> bool:
        return self in (PayoutState.PENDING, PayoutState.PROCESSING)


@dataclass(frozen=True, slots=True)
class SettlementPayout:
    merchant_id: str
    currency: str
    settlement_date: date
    batch_id: str
    amount: int
    reserve_released: int
    advanced: bool
    created_at: datetime
    updated_at: datetime
    attempt: int = 1
    payout_id: str = ""
    state: PayoutState = PayoutState.PENDING
    failure_reason: str = ""
    return_reason: str = ""

    @property
    def settlement_payout_id(self) -> str:
        return payout_id_of(self.merchant_id, self.currency, self.settlement_date)

    @property
    def request_id(self) -> str:
        """The gateway's idempotency key of the current attempt: a retried run never pays
        twice, a RetryPayout pays again under the next."""
        return f"{self.settlement_payout_id}_{self.attempt}"

    def retried(self, now: datetime) -> SettlementPayout:
        if not self.state.retryable:
            raise PayoutNotRetryable(
                "only a failed or returned settlement payout is paid again",
                metadata={"state": self.state.value},
            )
        return replace(
            self,
            attempt=self.attempt + 1,
            payout_id="",
            state=PayoutState.PENDING,
            failure_reason="",
            return_reason="",
            updated_at=now,
        )


@dataclass(frozen=True, slots=True)
class GatewayPayout:
    """What the gateway says of a settlement payout's current attempt."""

    payout_id: str
    state: PayoutState
    failure_reason: str = ""
    return_reason: str = ""


def followed(payout: SettlementPayout, seen: GatewayPayout, now: datetime) -> SettlementPayout:
    """The payout as the gateway has it now (unchanged when it says nothing new)."""
    if (payout.payout_id, payout.state, payout.failure_reason, payout.return_reason) == (
        seen.payout_id,
        seen.state,
        seen.failure_reason,
        seen.return_reason,
    ):
        return payout
    return replace(
        payout,
        payout_id=seen.payout_id or payout.payout_id,
        state=seen.state,
        failure_reason=seen.failure_reason,
        return_reason=seen.return_reason,
        updated_at=now,
    )


def payout_id_of(merchant_id: str, currency: str, settlement_date: date) -> str:
    return f"spo_{merchant_id}_{currency}_{settlement_date:%Y%m%d}"


def parse_payout_id(settlement_payout_id: str) -> tuple[str, str, date] | None:
    """(merchant, currency, settlement date) of an id payout_id_of made; None otherwise."""
    if not settlement_payout_id.startswith("spo_"):
        return None
    parts = settlement_payout_id.removeprefix("spo_").rsplit("_", 2)
    if len(parts) != 3 or not all(parts):
        return None
    try:
        day = datetime.strptime(parts[2], "%Y%m%d").date()
    except ValueError:
        return None
    return parts[0], parts[1], day


@dataclass(frozen=True, slots=True)
class PayoutPlan:
    """What one payout on a settlement date pays: the due lines, the reserves released."""

    merchant_id: str
    currency: str
    settlement_date: date
    lines: tuple[SettlementLine, ...]
    releases: tuple[SettlementLine, ...]

    @property
    def reserve_released(self) -> int:
        return sum(line.reserve_held for line in self.releases)

    @property
    def amount(self) -> int:
        return sum(line.to_pay for line in self.lines) + self.reserve_released

    @property
    def advanced(self) -> bool:
        return any(line.advanced for line in self.lines)


def plan_payout(
    unpaid: list[SettlementLine],
    reserved: list[SettlementLine],
    settings: SettlementSettings,
    on: date,
) -> PayoutPlan | None:
    """The payout due on a date from a merchant's unpaid lines and held reserves; None when
    nothing is due, or less than the minimum (at least one minor unit), or there is no account
    to pay to: then the due lines are held and carried to the next settlement date."""
    due = tuple(line for line in unpaid if line.settlement_date <= on)
    releases = tuple(line for line in reserved if line.reserve_due(on))
    if not due and not releases:
        return None
    currency = (due or releases)[0].currency
    plan = PayoutPlan(settings.merchant_id, currency, on, due, releases)
    if plan.amount < max(settings.minimum_payout, 1) or not settings.has_account:
        return None
    return plan


def paying(plan: PayoutPlan) -> list[SettlementLine]:
    """The plan's lines as its payout takes them: due lines in it, released reserves marked."""
    changed = {(line.batch_id, line.currency): line for line in plan.releases}
    changed = {k: replace(v, reserve_released=True) for k, v in changed.items()}
    for line in plan.lines:
        key = (line.batch_id, line.currency)
        base = changed.get(key, line)
        changed[key] = replace(base, state=LineState.IN_PAYOUT, paid_on=plan.settlement_date)
    return list(changed.values())


def held(lines: list[SettlementLine], on: date) -> list[SettlementLine]:
    """The due lines a date's payout did not take, marked held."""
    return [
        replace(line, state=LineState.HELD)
        for line in lines
        if line.settlement_date <= on and line.state is LineState.SCHEDULED
    ]


# The ledger transfers of settlement, by id: named after what they settle, so each posts once.
def clear_key(merchant_id: str, currency: str, trade_date: date) -> str:
    return f"settle:{merchant_id}:{currency}:{trade_date:%Y-%m-%d}:clear"


def reserve_key(merchant_id: str, currency: str, trade_date: date) -> str:
    return f"settle:{merchant_id}:{currency}:{trade_date:%Y-%m-%d}:reserve"


def release_key(merchant_id: str, currency: str, trade_date: date) -> str:
    return f"settle:{merchant_id}:{currency}:{trade_date:%Y-%m-%d}:release"


def settling_key(merchant_id: str, currency: str, settlement_date: date) -> str:
    return f"settle:{merchant_id}:{currency}:{settlement_date:%Y-%m-%d}:settling"


def advance_key(merchant_id: str, currency: str, settlement_date: date) -> str:
    return f"settle:{merchant_id}:{currency}:{settlement_date:%Y-%m-%d}:advance"


def repay_key(merchant_id: str, currency: str, settlement_date: date) -> str:
    """The transfer giving back what advance_key advanced, once the channels' money is in."""
    return f"settle:{merchant_id}:{currency}:{settlement_date:%Y-%m-%d}:repay"
