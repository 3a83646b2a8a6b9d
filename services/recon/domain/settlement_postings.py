"""The ledger transfers settlement books: clearing a line out of the payable, holding and
releasing its reserve, moving what a payout pays to settling, a D+0 advance, and the platform's
coupons of a trade date funded from its own funds into the reserve account."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from paysuite import accounts
from recon.domain.coupon_funding import funding_reference, funding_transfer_id
from recon.domain.funds import reserve_account
from recon.domain.settlement import (
    PayoutPlan,
    SettlementLine,
    advance_key,
    clear_key,
    release_key,
    reserve_key,
    settling_key,
)


@dataclass(frozen=True, slots=True)
class SettlementTransfer:
    transfer_id: str
    debit: str
    credit: str
    currency: str
    amount: int
    description: str
    metadata: dict[str, str] = field(default_factory=dict)


def _directed(
    transfer_id: str, frm: str, to: str, currency: str, amount: int, description: str
) -> list[SettlementTransfer]:
    """Moves amount from one liability to another (debit frm, credit to); a negative amount
    the other way; nothing for zero."""
    if amount == 0:
        return []
    debit, credit = (frm, to) if amount > 0 else (to, frm)
    return [SettlementTransfer(transfer_id, debit, credit, currency, abs(amount), description)]


def clearing_transfers(line: SettlementLine) -> list[SettlementTransfer]:
    """The line's net out of the payable into the amount to settle, and its reserve held."""
    merchant, currency, day = line.merchant_id, line.currency, line.trade_date
    to_settle = accounts.merchant_to_settle(merchant, currency)
    return [
        *_directed(
            clear_key(merchant, currency, day),
            accounts.merchant_payable(merchant, currency),
            to_settle,
            currency,
            line.totals.net,
            f"clearing {day:%Y-%m-%d}",
        ),
        *_directed(
            reserve_key(merchant, currency, day),
            to_settle,
            accounts.merchant_reserve(merchant, currency),
            currency,
            line.reserve_held,
            f"rolling reserve {day:%Y-%m-%d}",
        ),
    ]


def coupon_funding_transfers(
    trade_date: date, lines: Iterable[SettlementLine]
) -> list[SettlementTransfer]:
    """Per currency, what the platform's coupons paid of the date's payments less refunds
    (marketing cost, owed to the merchants in their net) moved from the platform's own funds
    into the reserve account the merchants are paid from; the other way when refunds gave
    back more than the date's coupons paid; nothing without coupons."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, 0) + line.totals.coupons
    transfers = []
    for currency, amount in sorted(totals.items()):
        if amount == 0:
            continue
        reserve, own = reserve_account(currency), accounts.own_funds(currency)
        debit, credit = (reserve, own) if amount > 0 else (own, reserve)
        transfers.append(
            SettlementTransfer(
                funding_transfer_id(currency, trade_date),
                debit,
                credit,
                currency,
                abs(amount),
                f"platform coupons of {trade_date:%Y-%m-%d} funded, at the bank under "
                f"{funding_reference(currency, trade_date)}",
            )
        )
    return transfers


def payout_transfers(plan: PayoutPlan) -> list[SettlementTransfer]:
    """Reserves released back to settle, what the payout pays moved to settling, and for D+0
    the platform's own funds advanced."""
    merchant, currency, on = plan.merchant_id, plan.currency, plan.settlement_date
    to_settle = accounts.merchant_to_settle(merchant, currency)
    transfers: list[SettlementTransfer] = []
    for line in plan.releases:
        transfers += _directed(
            release_key(merchant, currency, line.trade_date),
            accounts.merchant_reserve(merchant, currency),
            to_settle,
            currency,
            line.reserve_held,
            f"reserve of {line.trade_date:%Y-%m-%d} released",
        )
    transfers += _directed(
        settling_key(merchant, currency, on),
        to_settle,
        accounts.merchant_settling(merchant, currency),
        currency,
        plan.amount,
        f"settlement {on:%Y-%m-%d}",
    )
    if plan.advanced:
        transfers.append(
            SettlementTransfer(
                advance_key(merchant, currency, on),
                accounts.settlement_advance(currency),
                accounts.own_funds(currency),
                currency,
                plan.amount,
                f"D+0 settlement {on:%Y-%m-%d} advanced",
            )
        )
    return transfers
