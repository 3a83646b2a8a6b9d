"""A wallet's fees, known from its bill only, booked by reserve reconciliation: out of the
channel's receivable into the fee expense (back the other way when the day gave more back than
it charged); a corrected bill's fees booked by their difference from those booked before, each
change a transfer of its own, so no transfer id ever comes back with another amount."""

from __future__ import annotations

from datetime import date

from recon.domain.funds import FeesBooked, Posting, fee_transfer

DAY = date(2026, 3, 2)
EXPENSE, RECEIVABLE = "platform.channel_fee_expense.CNY", "channel.alipaysim.receivable.CNY"


def test_a_wallets_fees_move_from_its_receivable_to_the_fee_expense() -> None:
    transfer = fee_transfer("alipaysim", DAY, "CNY", 73)
    assert transfer is not None
    assert transfer.transfer_id == "funds:fee:alipaysim:2026-03-02:CNY"
    assert transfer.postings == (Posting(EXPENSE, RECEIVABLE, 73),)
    assert fee_transfer("alipaysim", DAY, "CNY", 73) == transfer  # the same however often run


def test_fees_given_back_beyond_those_charged_go_back_to_the_receivable() -> None:
    transfer = fee_transfer("wechatsim", DAY, "CNY", -6)
    assert transfer is not None
    assert transfer.postings == (
        Posting("channel.wechatsim.receivable.CNY", "platform.channel_fee_expense.CNY", 6),
    )


def test_fees_booked_as_the_bill_states_them_call_for_nothing_more() -> None:
    assert fee_transfer("alipaysim", DAY, "CNY", 0) is None
    assert fee_transfer("alipaysim", DAY, "CNY", 73, FeesBooked(73, 1)) is None


def test_a_corrected_bills_fees_are_booked_by_their_difference_under_the_next_id() -> None:
    less = fee_transfer("alipaysim", DAY, "CNY", 61, FeesBooked(73, 1))
    assert less is not None
    assert less.transfer_id == "funds:fee:alipaysim:2026-03-02:CNY:2"
    assert less.postings == (Posting(RECEIVABLE, EXPENSE, 12),)
    more = fee_transfer("alipaysim", DAY, "CNY", 90, FeesBooked(61, 2))
    assert more is not None
    assert more.transfer_id == "funds:fee:alipaysim:2026-03-02:CNY:3"
    assert more.postings == (Posting(EXPENSE, RECEIVABLE, 29),)
