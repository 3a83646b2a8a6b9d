"""Platform coupons in clearing and the reserve account: a merchant is cleared its whole orders
with its coupons shown, the channel what it charged; the day's coupons are funded from own funds
into the reserve account under one transfer per currency and date; the bank's entry of that
funding is matched with the booking, only a difference parked."""

from __future__ import annotations

from datetime import date

from recon.domain.coupon_funding import funded_date, funding_reference, funding_transfer_id
from recon.domain.funds import (
    EntryKind,
    Posting,
    ReserveLine,
    as_booked,
    classify,
    entry_transfer,
)
from recon.domain.settlement import MerchantTotals, SettlementLine
from recon.domain.settlement_postings import coupon_funding_transfers
from recon.domain.settlement_tally import ClearingRecord, Tally

DAY = date(2026, 12, 6)
RESERVE, OWN_FUNDS = "platform.reserve.CNY", "platform.own_funds.CNY"


def test_a_merchant_is_cleared_its_whole_orders_and_the_channel_what_it_charged() -> None:
    tally = Tally()
    # 100.00 of which the coupon paid 15.00; 25.00 refunded, 3.75 of it the coupon's share.
    tally.add(ClearingRecord("banksim", "M1", "CNY", False, 8_500, 30, 60, platform_coupon=1_500))
    tally.add(ClearingRecord("banksim", "M1", "CNY", True, 2_125, 0, 15, platform_coupon=375))
    tally.add(ClearingRecord("banksim", "M1", "CNY", False, 1_000, 6, 6))
    merchant = tally.merchants["M1", "CNY"]
    assert (merchant.payments, merchant.refunds, merchant.fees) == (11_000, 2_500, 51)
    assert merchant.coupons == 1_500 - 375
    assert merchant.net == 11_000 - 2_500 - 51
    channel = tally.channels["banksim", "CNY"]
    assert (channel.payments, channel.refunds) == (9_500, 2_125)
    assert channel.net == 9_500 - 2_125 - 36


def _line(merchant: str, currency: str, coupons: int) -> SettlementLine:
    totals = MerchantTotals(merchant, currency, payments=10_000, coupons=coupons)
    return SettlementLine("stb_20261206", totals, DAY, DAY, 0, None, False)


def test_the_days_coupons_are_funded_once_per_currency_and_date() -> None:
    lines = [_line("M1", "CNY", 1_125), _line("M2", "CNY", 500), _line("M3", "USD", 0)]
    [funding] = coupon_funding_transfers(DAY, lines)
    assert funding.transfer_id == funding_transfer_id("CNY", DAY) == "fund:coupons:CNY:2026-12-06"
    assert (funding.debit, funding.credit, funding.amount) == (RESERVE, OWN_FUNDS, 1_625)
    assert coupon_funding_transfers(DAY, [_line("M1", "CNY", 0)]) == []


def test_refunds_giving_back_more_coupons_than_the_day_paid_move_them_back() -> None:
    [back] = coupon_funding_transfers(DAY, [_line("M1", "CNY", -200)])
    assert (back.debit, back.credit, back.amount) == (OWN_FUNDS, RESERVE, 200)


def _entry_line(e2e: str, amount: int, credit: bool = True) -> ReserveLine:
    return ReserveLine("F20261206000000000001", e2e, credit, amount, "CNY", 3)


def test_the_banks_funding_entry_is_matched_with_what_clearing_booked() -> None:
    reference = funding_reference("CNY", DAY)
    assert reference == "CPN-CNY-20261206"
    assert funded_date(reference) == ("CNY", DAY)
    assert funded_date("CPN-CNY-20261340") is None
    entry = classify(_entry_line(reference, 1_625), {"banksim": 1})
    assert (entry.kind, entry.business_date) == (EntryKind.FUNDING, DAY)

    agreed, none = entry_transfer(entry, "banksim", 1_625)
    assert (agreed.postings, none) == ((), None)

    more, found = entry_transfer(entry, "banksim", 1_600)
    assert more.postings == (Posting(RESERVE, "platform.reserve_suspense.CNY", 25),)
    assert found is not None
    assert (found.kind, found.expected, found.actual, found.parked) == (
        "funding_amount",
        1_600,
        1_625,
        25,
    )


def test_a_funding_first_booked_as_unexplained_stays_so() -> None:
    entry = classify(_entry_line("CPN-CNY-20261206", 1_625), {})
    assert as_booked(entry, EntryKind.UNEXPECTED.value).kind is EntryKind.UNEXPECTED
    assert as_booked(entry, EntryKind.FUNDING.value).kind is EntryKind.FUNDING
