"""Settlement rules: T+N over weekends, holidays and make-up workdays, D+0, the rolling
reserve and its release, the minimum payout, and what one payout takes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from recon.domain.settlement import (
    LineState,
    MerchantTotals,
    PayoutNotRetryable,
    PayoutState,
    SettlementPayout,
    SettlementSettings,
    clear,
    held,
    parse_payout_id,
    paying,
    payout_id_of,
    plan_payout,
)
from recon.domain.settlement_calendar import BusinessCalendar
from recon.domain.settlement_postings import clearing_transfers, payout_transfers
from recon.domain.settlement_tally import ClearingRecord, Tally

FRIDAY = date(2026, 9, 25)
NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))
MAKE_UP = frozenset({date(2026, 9, 27)})  # a Sunday worked instead
CALENDAR = BusinessCalendar(NATIONAL_DAY, MAKE_UP)
NOW = datetime(2026, 9, 25, 12, tzinfo=UTC)


def _with_account(**fields: Any) -> SettlementSettings:
    """M1's settings with a settlement bank account, and the fields given."""
    return SettlementSettings("M1", account_no="6222020200112345", account_name="Shop", **fields)


@pytest.mark.parametrize(
    ("trade_date", "days", "due"),
    [
        (FRIDAY, 1, date(2026, 9, 27)),  # the make-up Sunday is a business day
        (date(2026, 9, 26), 0, date(2026, 9, 27)),  # T+0 on a Saturday: the next business day
        (date(2026, 9, 28), 1, date(2026, 9, 29)),
        (date(2026, 9, 30), 1, date(2026, 10, 8)),  # over the National Day holidays
        (date(2026, 9, 30), 2, date(2026, 10, 9)),
        (date(2026, 10, 9), 1, date(2026, 10, 12)),  # Friday to Monday
    ],
)
def test_t_plus_n_counts_business_days(trade_date: date, days: int, due: date) -> None:
    settings = SettlementSettings("M1", cycle_days=days)
    assert settings.settlement_date(trade_date, CALENDAR) == due


def test_d_plus_0_is_the_trade_date_itself_even_on_a_holiday_and_is_advanced() -> None:
    settings = _with_account(advance=True)
    line = clear("b", date(2026, 10, 1), MerchantTotals("M1", "CNY", 10_000), settings, CALENDAR)
    assert (line.settlement_date, line.advanced) == (date(2026, 10, 1), True)
    plan = plan_payout([line], [], settings, date(2026, 10, 1))
    assert plan is not None and plan.advanced
    advance = payout_transfers(plan)[-1]
    assert (advance.debit, advance.credit, advance.amount) == (
        "platform.settlement_advance.CNY",
        "platform.own_funds.CNY",
        10_000,
    )


def test_the_reserve_is_held_back_and_released_after_its_days() -> None:
    settings = _with_account(reserve_bps=1_000, reserve_days=7)
    totals = MerchantTotals("M1", "CNY", payments=10_001, payments_count=1, fees=1)
    line = clear("b", FRIDAY, totals, settings, CALENDAR)
    assert (line.reserve_held, line.reserve_release_date) == (1_000, date(2026, 10, 4))
    first = plan_payout([line], [line], settings, line.settlement_date)
    assert first is not None and (first.amount, first.reserve_released) == (9_000, 0)
    [in_payout] = paying(first)
    assert in_payout.state is LineState.IN_PAYOUT and not in_payout.reserve_released
    assert plan_payout([], [in_payout], settings, date(2026, 10, 3)) is None
    released = plan_payout([], [in_payout], settings, date(2026, 10, 4))
    assert released is not None and (released.amount, released.reserve_released) == (1_000, 1_000)
    assert [t.transfer_id for t in payout_transfers(released)] == [
        "settle:M1:CNY:2026-09-25:release",
        "settle:M1:CNY:2026-10-04:settling",
    ]


def test_no_reserve_is_held_of_a_day_the_merchant_owes() -> None:
    settings = SettlementSettings("M1", reserve_bps=1_000)
    line = clear("b", FRIDAY, MerchantTotals("M1", "CNY", refunds=500), settings, CALENDAR)
    assert (line.reserve_held, line.reserve_release_date) == (0, None)
    [back] = clearing_transfers(line)  # what the merchant owes goes back to its payable
    assert (back.debit, back.credit, back.amount) == (
        "merchant.M1.to_settle.CNY",
        "merchant.M1.payable.CNY",
        500,
    )


def test_less_than_the_minimum_is_held_and_carried_to_the_next_settlement() -> None:
    settings = _with_account(minimum_payout=5_000)
    monday = clear("b1", date(2026, 9, 28), MerchantTotals("M1", "CNY", 3_000), settings, CALENDAR)
    assert plan_payout([monday], [], settings, monday.settlement_date) is None
    [carried] = held([monday], monday.settlement_date)
    assert carried.state is LineState.HELD
    tuesday = clear("b2", date(2026, 9, 29), MerchantTotals("M1", "CNY", 3_000), settings, CALENDAR)
    plan = plan_payout([carried, tuesday], [], settings, tuesday.settlement_date)
    assert plan is not None and plan.amount == 6_000
    assert {line.batch_id for line in paying(plan)} == {"b1", "b2"}


def test_nothing_is_paid_without_a_settlement_account_or_before_the_date() -> None:
    line = clear(
        "b", FRIDAY, MerchantTotals("M1", "CNY", 3_000), SettlementSettings("M1"), CALENDAR
    )
    assert plan_payout([line], [], SettlementSettings("M1"), date(2026, 12, 1)) is None
    with_account = _with_account()
    assert plan_payout([line], [], with_account, FRIDAY) is None


def test_a_day_adds_up_per_merchant_and_channel_with_fees_given_back_on_refunds() -> None:
    tally = Tally()
    tally.add(ClearingRecord("banksim", "M1", "CNY", False, 10_000, 30, 60))
    tally.add(ClearingRecord("banksim", "M1", "CNY", True, 2_500, 0, 15))
    tally.add(ClearingRecord("alipaysim", "M1", "CNY", False, 1_000, 6, 6))
    tally.adjust("M1", "CNY", 200)
    merchant = tally.merchants["M1", "CNY"]
    assert (merchant.payments, merchant.refunds, merchant.fees, merchant.adjustments) == (
        11_000,
        2_500,
        51,
        200,
    )
    assert merchant.net == 11_000 - 2_500 - 51 + 200
    assert tally.channels["banksim", "CNY"].net == 10_000 - 2_500 - 30


def test_clearing_transfers_are_named_after_merchant_and_date() -> None:
    settings = SettlementSettings("M1", reserve_bps=500)
    line = clear("b", FRIDAY, MerchantTotals("M1", "CNY", 10_000), settings, CALENDAR)
    assert [(t.transfer_id, t.debit, t.credit, t.amount) for t in clearing_transfers(line)] == [
        (
            "settle:M1:CNY:2026-09-25:clear",
            "merchant.M1.payable.CNY",
            "merchant.M1.to_settle.CNY",
            10_000,
        ),
        (
            "settle:M1:CNY:2026-09-25:reserve",
            "merchant.M1.to_settle.CNY",
            "merchant.M1.reserve.CNY",
            500,
        ),
    ]


def test_only_a_failed_or_returned_payout_is_paid_again_under_a_new_request_id() -> None:
    payout = SettlementPayout("M_1", "CNY", FRIDAY, "b", 100, 0, False, NOW, NOW)
    assert payout.request_id == "spo_M_1_CNY_20260925_1"
    assert parse_payout_id(payout.settlement_payout_id) == ("M_1", "CNY", FRIDAY)
    with pytest.raises(PayoutNotRetryable):
        payout.retried(NOW)
    for state in (PayoutState.FAILED, PayoutState.RETURNED):
        again = SettlementPayout("M1", "CNY", FRIDAY, "b", 100, 0, False, NOW, NOW, state=state)
        retried = again.retried(NOW)
        assert (retried.attempt, retried.state, retried.request_id) == (
            2,
            PayoutState.PENDING,
            f"{payout_id_of('M1', 'CNY', FRIDAY)}_2",
        )
    assert parse_payout_id("po_123") is None
