"""How much of a D+0 settlement's advance is repaid: the advance less what the channels still
owe of the trade dates the payout paid (by their reconciled settlements, or their clearing net
before any), never below zero, nothing for a date never cleared; each repayment books what the
money arrived since adds, under the payout's next key, and never takes anything back."""

from __future__ import annotations

from datetime import date

from recon.domain.advance_repayment import (
    AdvancedPayout,
    Arrival,
    DateFunds,
    Repaid,
    repayable,
    repayment,
)

DAY, CARRIED = date(2026, 10, 1), date(2026, 9, 30)
SETTLING = ("bank", "wallet")
PAYOUT = AdvancedPayout("M1", "CNY", DAY, (DAY,))


def test_repaid_in_full_once_every_channel_has_paid_what_it_owes() -> None:
    # The wallet keeps its fees: it is expected to pay less than its clearing net, and has.
    funds = {
        DAY: DateFunds(
            {"bank": 6_000, "wallet": 4_000},
            {"bank": Arrival(5_964, 5_964), "wallet": Arrival(3_976, 3_976)},
        )
    }
    assert repayable(9_990, [DAY], funds, SETTLING) == 9_990


def test_what_a_channel_still_owes_stays_advanced() -> None:
    short = {DAY: DateFunds({"bank": 6_000}, {"bank": Arrival(6_000, 5_850)})}
    assert repayable(5_000, [DAY], short, SETTLING) == 4_850
    missing = {DAY: DateFunds({"bank": 6_000}, {"bank": Arrival(6_000, 0)})}
    assert repayable(5_000, [DAY], missing, SETTLING) == 0
    over = {DAY: DateFunds({"bank": 6_000}, {"bank": Arrival(6_000, 6_100)})}
    assert repayable(5_000, [DAY], over, SETTLING) == 5_000


def test_a_channel_not_reconciled_yet_owes_its_clearing_net() -> None:
    funds = {DAY: DateFunds({"bank": 1_000, "wallet": 300}, {"bank": Arrival(1_000, 1_000)})}
    assert repayable(1_000, [DAY], funds, SETTLING) == 700


def test_a_channel_of_the_platforms_own_book_owes_nothing() -> None:
    funds = {DAY: DateFunds({"balance": 2_000}, {})}
    assert repayable(2_000, [DAY], funds, SETTLING) == 2_000


def test_every_trade_date_the_payout_paid_counts_and_must_be_cleared() -> None:
    funds = {DAY: DateFunds({"bank": 1_000}, {"bank": Arrival(1_000, 1_000)})}
    assert repayable(1_500, [CARRIED, DAY], funds, SETTLING) == 0  # never cleared
    funds[CARRIED] = DateFunds({"bank": 500}, {"bank": Arrival(500, 200)})
    assert repayable(1_500, [CARRIED, DAY], funds, SETTLING) == 1_200


def test_the_first_repayment_gives_back_to_own_funds_under_the_payouts_key() -> None:
    transfer = repayment(PAYOUT, 4_321, Repaid())
    assert transfer is not None
    assert transfer.transfer_id == "settle:M1:CNY:2026-10-01:repay"
    [posting] = transfer.postings
    assert (posting.debit, posting.credit, posting.amount) == (
        "platform.own_funds.CNY",
        "platform.settlement_advance.CNY",
        4_321,
    )
    assert transfer.metadata["advance_transfer_id"] == "settle:M1:CNY:2026-10-01:advance"


def test_a_later_repayment_books_only_what_arrived_since_and_none_takes_back() -> None:
    later = repayment(PAYOUT, 5_000, Repaid(4_850, 1))
    assert later is not None
    assert later.transfer_id == "settle:M1:CNY:2026-10-01:repay:2"
    assert later.postings[0].amount == 150
    assert repayment(PAYOUT, 5_000, Repaid(5_000, 2)) is None
    assert repayment(PAYOUT, 4_000, Repaid(4_850, 1)) is None
