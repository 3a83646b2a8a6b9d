"""When a D+0 settlement's advance is repaid: only once every channel owing money for each trade
date the payout paid has money of it in the reserve account and what is there covers the
advance; the repayment gives back exactly the advance under a key of the payout's own."""

from __future__ import annotations

from datetime import date

from recon.domain.advance_repayment import AdvancedPayout, DateFunds, covered, repayment

DAY, CARRIED = date(2026, 10, 1), date(2026, 9, 30)
SETTLING = ("bank", "wallet")


def test_repaid_only_once_every_owing_channel_has_money_of_the_date_in() -> None:
    owed = {"bank": 6_000, "wallet": 4_000}
    assert not covered(5_000, [DAY], {DAY: DateFunds(owed, {"bank": 6_000})}, SETTLING)
    assert covered(5_000, [DAY], {DAY: DateFunds(owed, {"bank": 6_000, "wallet": 3_900})}, SETTLING)


def test_not_repaid_beyond_what_arrived() -> None:
    owed = {"bank": 6_000}
    assert not covered(6_000, [DAY], {DAY: DateFunds(owed, {"bank": 5_999})}, SETTLING)
    assert covered(6_000, [DAY], {DAY: DateFunds(owed, {"bank": 6_000})}, SETTLING)


def test_a_channel_of_the_platforms_own_book_counts_by_its_net_and_is_not_awaited() -> None:
    funds = {DAY: DateFunds({"bank": 1_000, "balance": 2_000}, {"bank": 1_000})}
    assert covered(3_000, [DAY], funds, SETTLING)
    assert not covered(3_001, [DAY], funds, SETTLING)


def test_every_trade_date_the_payout_paid_must_be_in_and_cleared() -> None:
    funds = {DAY: DateFunds({"bank": 1_000}, {"bank": 1_000})}
    assert not covered(1_500, [CARRIED, DAY], funds, SETTLING)  # never cleared
    funds[CARRIED] = DateFunds({"bank": 500}, {})
    assert not covered(1_500, [CARRIED, DAY], funds, SETTLING)  # not arrived
    funds[CARRIED] = DateFunds({"bank": 500}, {"bank": 500})
    assert covered(1_500, [CARRIED, DAY], funds, SETTLING)


def test_nothing_advanced_is_nothing_to_repay() -> None:
    assert not covered(0, [DAY], {DAY: DateFunds({"bank": 1}, {"bank": 1})}, SETTLING)


def test_the_repayment_gives_the_advance_back_to_own_funds_under_the_payouts_key() -> None:
    transfer = repayment(AdvancedPayout("M1", "CNY", DAY, (DAY,)), 4_321)
    assert transfer.transfer_id == "settle:M1:CNY:2026-10-01:repay"
    [posting] = transfer.postings
    assert (posting.debit, posting.credit, posting.amount) == (
        "platform.own_funds.CNY",
        "platform.settlement_advance.CNY",
        4_321,
    )
    assert transfer.metadata["advance_transfer_id"] == "settle:M1:CNY:2026-10-01:advance"
