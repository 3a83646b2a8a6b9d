"""Adding up a statement's lines and checking them against what the file states."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paysuite.money import Money
from recon.domain.statement_totals import KEPT_REJECTIONS, Amount, Check, Tally
from recon.domain.statements import (
    Direction,
    LineKind,
    MalformedLine,
    Rejection,
    StatementLine,
    exact_decimal,
)


def line(
    kind: LineKind, amount: Money, fee: str = "0", direction: Direction | None = None
) -> StatementLine:
    side = direction or (Direction.DEBIT if kind is LineKind.REFUND else Direction.CREDIT)
    return StatementLine(1, kind, side, amount, Decimal(fee), "T1", "pay_1")


def test_totals_are_kept_per_currency_and_fees_at_their_precision() -> None:
    tally = Tally()
    items: list[StatementLine | Rejection] = [
        line(LineKind.PAYMENT, Money("CNY", 10000), "0.60000"),
        line(LineKind.REFUND, Money("CNY", 1700), "-0.10200"),
        Rejection(4, "bad"),
        line(LineKind.PAYMENT, Money("USD", 500), "0.03"),
        line(LineKind.FEE, Money("CNY", 60), "0.60", Direction.DEBIT),
    ]

    lines = list(tally.count(items))
    summary = tally.summary([])

    assert len(lines) == 4
    assert summary.rows == 4
    cny, usd = summary.totals
    assert (cny.payments, cny.refunds, cny.payment_minor_units, cny.refund_minor_units) == (
        1,
        1,
        10000,
        1700,
    )
    assert (cny.credit_minor_units, cny.debit_minor_units) == (10000, 1760)
    assert str(cny.fee_net) == "1.09800"
    assert (usd.currency, usd.payment_minor_units, str(usd.fee_net)) == ("USD", 500, "0.03")
    assert (summary.rejected, summary.rejections) == (1, (Rejection(4, "bad"),))
    assert summary.control_totals_consistent
    assert summary.balances_consistent is None


def test_only_the_first_rejections_are_kept_but_all_are_counted() -> None:
    tally = Tally()
    for number in range(KEPT_REJECTIONS + 5):
        tally.reject(Rejection(number, "bad"))

    summary = tally.summary([])

    assert summary.rejected == KEPT_REJECTIONS + 5
    assert len(summary.rejections) == KEPT_REJECTIONS


def test_checks_that_fail_are_breaks_and_balances_are_told_apart() -> None:
    checks = [
        Check("count", Decimal(3), 3),
        Check("sum", Decimal("1.10"), Decimal("1.1")),
        Check("closing", Amount("SEK", Decimal("-27.00")), Amount("EUR", Decimal("27.00")), True),
        Check("totals", None, 2),
    ]

    summary = Tally().summary(checks)

    assert summary.breaks == (
        "closing: the file says -27.00 SEK, its lines give 27.00 EUR",
        "totals: the file gives none (cut short?)",
    )
    assert summary.balances_consistent is False
    assert not summary.control_totals_consistent


@pytest.mark.parametrize("text", ["1e3", "NaN", "1,000.00", "", "0x10", "Infinity"])
def test_only_plain_decimals_are_read(text: str) -> None:
    with pytest.raises(MalformedLine):
        exact_decimal(text, "fee")


def test_a_line_refuses_ids_longer_than_its_column() -> None:
    with pytest.raises(MalformedLine, match="order_id longer than 64"):
        StatementLine(
            1, LineKind.PAYMENT, Direction.CREDIT, Money("CNY", 1), Decimal(0), "T", "x" * 65
        )
