"""A merchant's statement from its ledger movements: each told apart by its transfer, the
platform's fee read off the fee-income posting, totals, CSV, and what keeps it from being given."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from recon.domain.merchant_statement import (
    LineKind,
    Movement,
    Posting,
    build,
    to_csv,
    unclean,
)

DAY = date(2026, 3, 4)
PAYABLE = "merchant.M1.payable.CNY"
RECEIVABLE = "channel.banksim.receivable.CNY"
FEES = "platform.fee_income.CNY"


def at(hour: int) -> datetime:
    return datetime(2026, 3, 4, hour, tzinfo=UTC)


def capture(payment: str, amount: int, fee: int, hour: int) -> Movement:
    return Movement(
        f"{payment}:capture",
        at(hour),
        amount - fee,
        (Posting(RECEIVABLE, PAYABLE, amount - fee), Posting(RECEIVABLE, FEES, fee)),
    )


def refund(refund_id: str, amount: int, fee_back: int, hour: int) -> Movement:
    return Movement(
        f"{refund_id}:refund",
        at(hour),
        -(amount - fee_back),
        (Posting(PAYABLE, RECEIVABLE, amount - fee_back), Posting(FEES, RECEIVABLE, fee_back)),
    )


def test_payments_refunds_adjustments_and_other_movements() -> None:
    movements = [
        refund("ref_1", 400, 4, 11),
        capture("pay_1", 10_000, 100, 9),
        capture("pay_2", 2_000, 20, 10),
        Movement(
            "recon:dis_9:clear",
            at(12),
            777,
            (Posting("channel.alipaysim.suspense.CNY", PAYABLE, 777),),
        ),
        Movement("po_1:payout", at(13), -5_000, ()),
    ]
    statement = build("M1", DAY, "CNY", movements)
    assert [
        (line.kind, line.transaction_id, line.amount, line.fee, line.net)
        for line in statement.lines
    ] == [
        (LineKind.PAYMENT, "pay_1", 10_000, -100, 9_900),
        (LineKind.PAYMENT, "pay_2", 2_000, -20, 1_980),
        (LineKind.REFUND, "ref_1", -400, 4, -396),
        (LineKind.ADJUSTMENT, "dis_9", 777, 0, 777),
        (LineKind.OTHER, "po_1:payout", -5_000, 0, -5_000),
    ]
    assert [line.channel for line in statement.lines] == ["banksim"] * 3 + ["", ""]
    assert statement.channels == ["banksim"]
    assert (statement.count(LineKind.PAYMENT), statement.payment_amount) == (2, 12_000)
    assert (statement.count(LineKind.REFUND), statement.refund_amount) == (1, 400)
    assert statement.fee_amount == 116
    assert (statement.adjustment_amount, statement.other_amount) == (777, -5_000)
    assert statement.net_amount == 12_000 - 400 - 116 + 777 - 5_000


def test_the_csv_lists_each_movement_then_the_totals() -> None:
    statement = build("M1", DAY, "CNY", [capture("pay_1", 1234, 12, 9), refund("ref_1", 34, 0, 10)])
    rows = list(csv.reader(io.StringIO(to_csv(statement))))
    assert rows[0][:4] == ["merchant_id", "statement_date", "kind", "transaction_id"]
    assert rows[1] == [
        "M1", "2026-03-04", "payment", "pay_1", "banksim", "2026-03-04T09:00:00+00:00", "CNY",
        "12.34", "-0.12", "12.22",
    ]  # fmt: skip
    assert rows[2][2:4] == ["refund", "ref_1"] and rows[2][7:] == ["-0.34", "0.00", "-0.34"]
    totals = {row[2]: row[9] for row in rows[3:]}
    assert totals == {
        "total payments (1)": "12.34",
        "total refunds (1)": "-0.34",
        "total fees": "-0.12",
        "total adjustments": "0.00",
        "total other": "0.00",
        "net": "11.88",
    }


def test_an_empty_day_is_an_empty_statement() -> None:
    statement = build("M1", DAY, "CNY", [])
    assert (statement.lines, statement.channels, statement.net_amount) == ((), [], 0)
    assert len(to_csv(statement).splitlines()) == 1 + 6


def test_what_keeps_the_channel_layer_from_being_clean() -> None:
    assert unclean(["banksim", "wechatsim"], {"banksim", "wechatsim"}, {"banksim": 0}) == []
    assert unclean(["banksim", "wechatsim"], {"banksim"}, {"banksim": 2, "wechatsim": 0}) == [
        "wechatsim: not reconciled",
        "banksim: 2 differences open",
    ]
