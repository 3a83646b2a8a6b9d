"""What the payment path reads of a payer's use before it knows the payer's windows: every
day of every owner any window of the payer's tier can count, whatever the opening date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from identity.domain.limits import (
    LimitPolicy,
    Scope,
    UseRead,
    YearWindow,
    owner_of,
    use_reads,
    windows,
)
from identity.domain.model import Tier

# Around 29 February and a year's turn, in and out of a leap year.
TODAYS = [date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1), date(2027, 12, 31)]
TODAYS += [date(2027, 1, 1), date(2029, 3, 1)]


def _read(reads: tuple[UseRead, ...], tier: Tier, named: bool, scope: Scope) -> UseRead:
    [found] = [r for r in reads if (r.tier, r.real_named, r.scope) == (tier, named, scope)]
    return found


@pytest.mark.parametrize("kind", list(YearWindow))
def test_every_window_of_every_opening_date_is_read_whole(kind: YearWindow) -> None:
    policy = LimitPolicy(year_window=kind, daily_certificate=3_000_000)
    for today in TODAYS:
        reads = use_reads(policy, today)
        for opened in (today - timedelta(days=n) for n in range(0, 740)):
            for tier in Tier:
                for named in (False, True):
                    for factors, certificate in ((1, False), (2, False), (1, True)):
                        for w in windows(policy, tier, opened, today, factors, certificate, named):
                            owner = owner_of(w, "U1", "C1" if named else None)
                            scope = Scope.PERSON if owner.startswith("person:") else Scope.ACCOUNT
                            since = _read(reads, tier, named, scope).since
                            assert since is None or (w.start is not None and since <= w.start)


def test_a_class_ii_person_is_read_from_a_year_back_and_a_class_i_account_every_day() -> None:
    today = date(2026, 12, 6)
    reads = use_reads(LimitPolicy(), today)
    assert _read(reads, Tier.CLASS_II, True, Scope.PERSON).since == date(2025, 12, 6)
    assert _read(reads, Tier.CLASS_I, False, Scope.ACCOUNT).since is None
    # A real-named Class I payer: its lifetime window is the account's, its daily the person's.
    assert _read(reads, Tier.CLASS_I, True, Scope.ACCOUNT).since is None
    assert _read(reads, Tier.CLASS_I, True, Scope.PERSON).since == today
    # Only the owners some window counts are read.
    assert not [
        r
        for r in reads
        if r.tier is Tier.CLASS_II and r.real_named is False and r.scope is Scope.PERSON
    ]
