"""Tier rules and limit windows (PBoC 2015 No. 43, Art. 11 and 23-24), without I/O."""

from __future__ import annotations

from datetime import date

import pytest

from identity.domain.limits import (
    DayUse,
    LimitKind,
    LimitPolicy,
    Scope,
    YearWindow,
    anniversary,
    applies,
    owner_of,
    used_in,
    windows,
    year_window,
)
from identity.domain.model import Tier
from identity.domain.tiers import TierEvidence, tier_for


def _providers(n: int) -> frozenset[str]:
    return frozenset(f"banksim:BANK{i}" for i in range(n))


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, Tier.NONE),
        (1, Tier.CLASS_I),
        (2, Tier.CLASS_I),
        (3, Tier.CLASS_II),
        (4, Tier.CLASS_II),
        (5, Tier.CLASS_III),
        (7, Tier.CLASS_III),
    ],
)
def test_tier_by_number_of_external_providers(count: int, expected: Tier) -> None:
    assert tier_for(TierEvidence(_providers(count))) is expected


def test_face_to_face_reaches_class_iii_without_external_providers() -> None:
    assert tier_for(TierEvidence(frozenset(), face_to_face=True)) is Tier.CLASS_III


def test_one_class_iii_per_person_caps_others_at_class_ii() -> None:
    evidence = TierEvidence(_providers(5), class_iii_elsewhere=True)
    assert tier_for(evidence) is Tier.CLASS_II


def test_a_downgrade_caps_later_upgrades() -> None:
    assert tier_for(TierEvidence(_providers(5), cap=Tier.CLASS_I)) is Tier.CLASS_I
    assert tier_for(TierEvidence(_providers(1), cap=Tier.CLASS_II)) is Tier.CLASS_I


def test_anniversary_window_turns_over_on_the_opening_date() -> None:
    opened = date(2024, 3, 15)
    before = year_window(YearWindow.ANNIVERSARY, opened, date(2026, 3, 14))
    on = year_window(YearWindow.ANNIVERSARY, opened, date(2026, 3, 15))
    assert before == (date(2025, 3, 15), date(2026, 3, 15))
    assert on == (date(2026, 3, 15), date(2027, 3, 15))


def test_leap_day_opening_has_its_anniversary_on_28_february() -> None:
    assert anniversary(date(2024, 2, 29), 2025) == date(2025, 2, 28)
    assert anniversary(date(2024, 2, 29), 2028) == date(2028, 2, 29)
    assert year_window(YearWindow.ANNIVERSARY, date(2024, 2, 29), date(2025, 2, 28)) == (
        date(2025, 2, 28),
        date(2026, 2, 28),
    )


def test_calendar_and_rolling_windows() -> None:
    today = date(2026, 11, 21)
    assert year_window(YearWindow.CALENDAR, date(2020, 6, 1), today) == (
        date(2026, 1, 1),
        date(2027, 1, 1),
    )
    start, end = year_window(YearWindow.ROLLING, date(2020, 6, 1), today)
    assert (end - start).days == 365 and end == date(2026, 11, 22)


def _kinds(found: list) -> dict[LimitKind, object]:  # type: ignore[type-arg]
    return {w.kind: w for w in found}


def test_class_i_has_a_lifetime_balance_limit_of_1000_yuan() -> None:
    found = _kinds(
        windows(
            LimitPolicy(),
            Tier.CLASS_I,
            date(2026, 1, 1),
            date(2026, 11, 21),
            1,
            False,
            real_named=True,
        )
    )
    lifetime = found[LimitKind.TIER_LIFETIME]
    assert lifetime.limit == 100_000 and lifetime.start is None  # type: ignore[attr-defined]
    assert lifetime.scope is Scope.ACCOUNT  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("tier", "limit"), [(Tier.CLASS_II, 10_000_000), (Tier.CLASS_III, 20_000_000)]
)
def test_class_ii_and_iii_yearly_limits_add_up_over_the_person(tier: Tier, limit: int) -> None:
    found = _kinds(
        windows(
            LimitPolicy(), tier, date(2026, 1, 1), date(2026, 11, 21), 1, False, real_named=True
        )
    )
    yearly = found[LimitKind.TIER_YEARLY]
    assert yearly.limit == limit and yearly.scope is Scope.PERSON  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("factors", "certificate", "daily"),
    [
        (0, False, 100_000),
        (1, False, 100_000),
        (2, False, 500_000),
        (3, False, 500_000),
        (1, True, None),
    ],
)
def test_daily_limit_by_authentication_strength(
    factors: int, certificate: bool, daily: int | None
) -> None:
    found = _kinds(
        windows(
            LimitPolicy(),
            Tier.CLASS_II,
            date(2026, 1, 1),
            date(2026, 11, 21),
            factors,
            certificate,
            real_named=True,
        )
    )
    window = found.get(LimitKind.DAILY_AUTH)
    assert (window.limit if window else None) == daily  # type: ignore[attr-defined]


def test_unverified_accounts_may_not_pay_from_balance() -> None:
    found = _kinds(
        windows(
            LimitPolicy(),
            Tier.NONE,
            date(2026, 1, 1),
            date(2026, 11, 21),
            1,
            False,
            real_named=False,
        )
    )
    assert found[LimitKind.TIER_LIFETIME].limit == 0  # type: ignore[attr-defined]


def test_own_card_transfers_and_card_payments_do_not_count_against_tier_limits() -> None:
    found = windows(
        LimitPolicy(),
        Tier.CLASS_II,
        date(2026, 1, 1),
        date(2026, 11, 21),
        1,
        False,
        real_named=True,
    )
    tier_window = next(w for w in found if w.kind is LimitKind.TIER_YEARLY)
    daily = next(w for w in found if w.kind is LimitKind.DAILY_AUTH)
    assert applies(tier_window, balance_funded=True, own_card_transfer=False)
    assert not applies(tier_window, balance_funded=True, own_card_transfer=True)
    assert not applies(tier_window, balance_funded=False, own_card_transfer=False)
    assert applies(daily, balance_funded=False, own_card_transfer=False)


def test_a_windows_use_adds_up_its_owners_days_in_it() -> None:
    opened, today = date(2025, 3, 10), date(2026, 12, 6)
    found = windows(LimitPolicy(), Tier.CLASS_II, opened, today, 1, False, real_named=True)
    yearly, daily = found
    person = owner_of(yearly, "U1", "C1")
    assert person == owner_of(daily, "U1", "C1") == "person:C1"
    assert owner_of(yearly, "U1", None) == "user:U1"  # not real-named: the account alone
    days = [
        DayUse(person, today, 500, 200),
        DayUse(person, date(2026, 3, 10), 100, 100),  # the anniversary: in the year
        DayUse(person, date(2026, 3, 9), 7_000, 7_000),  # the day before: last year's
        DayUse("user:U1", today, 9_999, 9_999),  # the account's own row, not the person's
    ]
    assert used_in(daily, person, days) == 500
    assert used_in(yearly, person, days) == 300  # only what counts for the tier


def test_a_lifetime_window_counts_every_day() -> None:
    found = windows(
        LimitPolicy(), Tier.CLASS_I, date(2020, 1, 1), date(2026, 12, 6), 1, False, False
    )
    lifetime = found[0]
    days = [
        DayUse("user:U1", date(2020, 1, 2), 300, 300),
        DayUse("user:U1", date(2026, 12, 6), 1, 1),
    ]
    assert used_in(lifetime, owner_of(lifetime, "U1", None), days) == 301
