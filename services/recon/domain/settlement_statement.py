"""A batch's merchant settlement statement (结算对账单) as CSV: a row per merchant line with
its payments, refunds, fees, adjustments, platform coupons, net, reserve held and payout
reference."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from paysuite.money import MINOR_UNIT_EXPONENTS
from recon.domain.settlement import SettlementLine, SettlementPayout

HEADER = (
    "batch_id",
    "merchant_id",
    "currency",
    "trade_date",
    "settlement_date",
    "payments_count",
    "payments",
    "refunds_count",
    "refunds",
    "fees",
    "adjustments",
    "coupons",
    "net",
    "reserve_held",
    "settlement_payout_id",
    "payout_reference",
    "payout_state",
)


def major_units(minor_units: int, currency: str) -> str:
    """An amount as a plain decimal in major units, e.g. "-12.30"."""
    exponent = MINOR_UNIT_EXPONENTS.get(currency, 2)
    sign = "-" if minor_units < 0 else ""
    whole, part = divmod(abs(minor_units), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def statement_csv(rows: Iterable[tuple[SettlementLine, SettlementPayout | None]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for line, payout in rows:
        totals, currency = line.totals, line.currency

        def amount(value: int, currency: str = currency) -> str:
            return major_units(value, currency)

        writer.writerow(
            (
                line.batch_id,
                line.merchant_id,
                currency,
                line.trade_date.isoformat(),
                line.settlement_date.isoformat(),
                totals.payments_count,
                amount(totals.payments),
                totals.refunds_count,
                amount(totals.refunds),
                amount(totals.fees),
                amount(totals.adjustments),
                amount(totals.coupons),
                amount(totals.net),
                amount(line.reserve_held),
                payout.settlement_payout_id if payout else "",
                payout.payout_id if payout else "",
                payout.state.value if payout else line.state.value,
            )
        )
    return out.getvalue()
