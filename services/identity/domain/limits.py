"""Payment limits: tier limits on balance payments and daily limits by authentication strength."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from identity.domain.model import Tier


class YearWindow(enum.Enum):
    """How the yearly tier limit window is drawn."""

    ANNIVERSARY = "anniversary"  # from the account's opening date to the same date next year
    CALENDAR = "calendar"
    ROLLING = "rolling"  # the last 365 days


class Scope(enum.Enum):
    """Whose payments a window adds up."""

    ACCOUNT = "account"  # this payment account (user) only
    PERSON = "person"  # every account of the natural person


class LimitKind(enum.Enum):
    TIER_LIFETIME = "TIER_LIFETIME"
    TIER_YEARLY = "TIER_YEARLY"
    DAILY_AUTH = "DAILY_AUTH"


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Amounts in fen. Defaults are the regulation's; every one is configurable."""

    class_i_lifetime: int = 100_000
    class_ii_yearly: int = 10_000_000
    class_iii_yearly: int = 20_000_000
    daily_one_factor: int = 100_000
    daily_two_factors: int = 500_000
    daily_certificate: int | None = None  # None: as agreed with the customer, no fixed cap
    year_window: YearWindow = YearWindow.ANNIVERSARY


@dataclass(frozen=True, slots=True)
class Window:
    """One limit: [start, end) in accounting dates (None for lifetime), whose payments count."""

    kind: LimitKind
    limit: int
    scope: Scope
    balance_only: bool
    start: date | None = None
    end: date | None = None


def anniversary(opened: date, year: int) -> date:
    """The opening date's anniversary in a year; 29 February falls on the 28th."""
    try:
        return opened.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def year_window(kind: YearWindow, opened: date, today: date) -> tuple[date, date]:
    if kind is YearWindow.CALENDAR:
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    if kind is YearWindow.ROLLING:
        return today - timedelta(days=364), today + timedelta(days=1)
    start = anniversary(opened, today.year)
    if start > today:
        start = anniversary(opened, today.year - 1)
    return start, anniversary(opened, start.year + 1)


def daily_limit(policy: LimitPolicy, auth_factors: int, certificate: bool) -> int | None:
    if certificate:
        return policy.daily_certificate
    return policy.daily_two_factors if auth_factors >= 2 else policy.daily_one_factor


def windows(
    policy: LimitPolicy,
    tier: Tier,
    opened: date,
    today: date,
    auth_factors: int,
    certificate: bool,
    real_named: bool,
) -> list[Window]:
    """Every window a payment on this account must fit in, today."""
    scope = Scope.PERSON if real_named else Scope.ACCOUNT
    found: list[Window] = []
    match tier:
        case Tier.NONE:
            found.append(Window(LimitKind.TIER_LIFETIME, 0, Scope.ACCOUNT, True))
        case Tier.CLASS_I:
            found.append(
                Window(LimitKind.TIER_LIFETIME, policy.class_i_lifetime, Scope.ACCOUNT, True)
            )
        case Tier.CLASS_II | Tier.CLASS_III:
            start, end = year_window(policy.year_window, opened, today)
            yearly = policy.class_ii_yearly if tier is Tier.CLASS_II else policy.class_iii_yearly
            found.append(Window(LimitKind.TIER_YEARLY, yearly, scope, True, start, end))
    daily = daily_limit(policy, auth_factors, certificate)
    if daily is not None:
        found.append(
            Window(LimitKind.DAILY_AUTH, daily, scope, False, today, today + timedelta(days=1))
        )
    return found


def applies(window: Window, balance_funded: bool, own_card_transfer: bool) -> bool:
    """Tier windows count balance payments only, and never transfers to one's own card."""
    if window.balance_only:
        return balance_funded and not own_card_transfer
    return True


def account_owner(user_id: str) -> str:
    return f"user:{user_id}"


def person_owner(customer_id: str) -> str:
    return f"person:{customer_id}"


def owners(user_id: str, customer_id: str | None) -> list[str]:
    """Every owner a payment of the account counts for: the account, and its person."""
    return [account_owner(user_id)] + ([person_owner(customer_id)] if customer_id else [])


def owner_of(window: Window, user_id: str, customer_id: str | None) -> str:
    """Whose use a window adds up: the person's across their accounts, or this account's."""
    if window.scope is Scope.PERSON and customer_id:
        return person_owner(customer_id)
    return account_owner(user_id)


@dataclass(frozen=True, slots=True)
class DayUse:
    """What an owner reserved and committed on one accounting day; tier_amount is the part
    that counts against tier limits."""

    owner: str
    day: date
    amount: int
    tier_amount: int


def used_in(window: Window, owner: str, days: Iterable[DayUse]) -> int:
    """The owner's use that falls in the window."""
    return sum(
        d.tier_amount if window.balance_only else d.amount
        for d in days
        if d.owner == owner
        and (window.start is None or window.end is None or window.start <= d.day < window.end)
    )


# A year window starts at most 365 days before today, whichever date the account opened: on
# its last anniversary, on 1 January, or 364 days back for a rolling year.
YEAR_BACK = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class UseRead:
    """Whose use the windows of a payer of this tier (real-named or not) count, the account's or
    the person's, and from which day on (None: every day), whatever the payer's opening date
    and authentication: a payer's use can be read before its windows are known."""

    tier: Tier
    real_named: bool
    scope: Scope
    since: date | None


@lru_cache(maxsize=4)
def use_reads(policy: LimitPolicy, today: date) -> tuple[UseRead, ...]:
    """What to read for a payer of each tier: from at least the first day any of its windows
    can start, so used_in, which counts only the days inside each window, sees them all."""
    found: list[UseRead] = []
    for tier in Tier:
        for named in (False, True):
            starts: dict[Scope, list[date | None]] = {}
            for w in windows(policy, tier, today, today, 1, False, named):
                scope = Scope.PERSON if w.scope is Scope.PERSON and named else Scope.ACCOUNT
                start = today - YEAR_BACK if w.kind is LimitKind.TIER_YEARLY else w.start
                starts.setdefault(scope, []).append(start)
            for scope, days in starts.items():
                since = None if None in days else min(d for d in days if d is not None)
                found.append(UseRead(tier, named, scope, since))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Reservation:
    """An amount held against a payer's limits for a payment until it is settled."""

    payment_id: str
    user_id: str
    customer_id: str | None
    amount: int
    currency: str
    balance_funded: bool
    counts_for_tier: bool
    day: date

    def uses(self) -> list[DayUse]:
        """What it adds to each owner's use of its day."""
        tier = self.amount if self.counts_for_tier else 0
        return [
            DayUse(o, self.day, self.amount, tier) for o in owners(self.user_id, self.customer_id)
        ]
