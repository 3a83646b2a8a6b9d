"""A wallet's fees, known from its bill only, booked by reserve reconciliation: out of the
channel's receivable into the fee expense (back the other way when the day gave more back than
it charged), under one transfer per channel's date."""

from __future__ import annotations

from datetime import date

from recon.domain.funds import Posting, fee_transfer

DAY = date(2026, 3, 2)


def test_a_wallets_fees_move_from_its_receivable_to_the_fee_expense() -> None:
    transfer = fee_transfer("alipaysim", DAY, "CNY", 73)
    assert transfer.transfer_id == "funds:fee:alipaysim:2026-03-02:CNY"
    assert transfer.postings == (
        Posting("platform.channel_fee_expense.CNY", "channel.alipaysim.receivable.CNY", 73),
    )
    assert fee_transfer("alipaysim", DAY, "CNY", 73) == transfer  # the same however often run


def test_fees_given_back_beyond_those_charged_go_back_to_the_receivable() -> None:
    (posting,) = fee_transfer("wechatsim", DAY, "CNY", -6).postings
    assert posting == Posting(
        "channel.wechatsim.receivable.CNY", "platform.channel_fee_expense.CNY", 6
    )
