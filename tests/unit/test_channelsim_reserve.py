"""The bank simulator's reserve account without HTTP: a day's takings as acquirer, settlements
decided once (short-paid or missing by the dials), payouts and returns as entries, and a day's
opening balance and entries."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from channelsim.banktime import SHANGHAI
from channelsim.faults import Dice, Faults
from channelsim.payouts import Payout
from channelsim.refunds import RefundRecord
from channelsim.reserve import (
    CREDIT,
    DEBIT,
    ReserveAccount,
    Settlement,
    acquirer_takings,
    settle_due_at,
)
from channelsim.store import FAIL, SUCCESS, Transaction

DAY = date(2026, 12, 5)
NOON = datetime(2026, 12, 5, 12, 0, tzinfo=SHANGHAI)
LATER = NOON.timestamp() + 7 * 86_400


def _charge(number: int, amount: int, fee: int, status: str = SUCCESS) -> Transaction:
    return Transaction(
        f"O{number}", f"B{number}", "PAYSUITE01", amount, "CNY", fee, status, "", "", NOON
    )


def _payout(number: int, *, returns_at: float | None = None) -> Payout:
    return Payout(
        out_payout_no=f"po_{number}",
        payout_no=f"P2026120500000000000{number}",
        mch_id="PAYSUITE01",
        amount=10_000,
        currency="CNY",
        fee=100,
        payee="account ****2345",
        payee_digest="d",
        status=SUCCESS,
        err_code="",
        err_msg="",
        pay_time=NOON,
        returns_at=returns_at,
        return_reason="ACCOUNT_CLOSED" if returns_at else "",
    )


def _settle(account: ReserveAccount, faults: Faults, amount: int = 9_000) -> Settlement:
    return account.settle(
        channel="alipaysim",
        business_date=DAY,
        currency="CNY",
        amount=amount,
        payer="Alipay",
        booked_at=NOON.timestamp() + 86_400,
        faults=faults,
        dice=Dice(1),
    )


def test_the_acquirers_takings_are_charges_less_fees_less_the_days_refunds() -> None:
    charges = [_charge(1, 10_000, 60), _charge(2, 5_000, 30), _charge(3, 7_000, 0, FAIL)]
    refunds = [
        RefundRecord("R1", "O2", 1_000, "RF1", SUCCESS, "", NOON.timestamp()),
        RefundRecord("R2", "O2", 500, "RF2", FAIL, "X", NOON.timestamp()),
        RefundRecord("R3", "O1", 700, "RF3", SUCCESS, "", NOON.timestamp() + 86_400),
    ]

    takings = acquirer_takings(charges, refunds, mch_id="PAYSUITE01", day=DAY, now=LATER)

    assert takings == 15_000 - 90 - 1_000


def test_a_days_settlement_lands_its_delay_after_the_day_ends() -> None:
    midnight = datetime(2026, 12, 6, tzinfo=SHANGHAI).timestamp()

    assert settle_due_at(DAY, 0) == midnight
    assert settle_due_at(DAY, 9 * 3_600_000) == midnight + 9 * 3600


def test_a_settlement_is_decided_once_short_paid_or_missing_by_the_dials() -> None:
    short = ReserveAccount()
    first = _settle(short, Faults(reserve_short_rate=1.0, reserve_short_fen=250))
    again = _settle(short, Faults(), amount=1)
    missing = ReserveAccount()
    never = _settle(missing, Faults(reserve_missing_rate=1.0))

    assert first == again
    assert (first.amount, first.paid, first.missing) == (9_000, 8_750, False)
    assert (never.paid, never.missing) == (0, True)
    assert missing.entries([], LATER) == []


def test_a_day_opens_with_what_came_before_and_lists_its_own_entries() -> None:
    account = ReserveAccount(opening=1_000_000)
    _settle(account, Faults())
    payouts = [_payout(1), _payout(2, returns_at=NOON.timestamp() + 86_400 + 60)]

    opening, before = account.day(payouts, DAY, LATER)
    next_opening, entries = account.day(payouts, DAY + timedelta(days=1), LATER)

    assert opening == 1_000_000
    assert [(e.indicator, e.amount, e.end_to_end_id) for e in before] == [
        (DEBIT, 10_100, "po_1"),
        (DEBIT, 10_100, "po_2"),
    ]
    assert next_opening == 1_000_000 - 20_200
    assert [(e.indicator, e.amount, e.end_to_end_id) for e in entries] == [
        (CREDIT, 9_000, "STL-alipaysim-20261205"),
        (CREDIT, 10_000, "po_2"),
    ]
    assert entries[1].bank_ref == "T20261205000000000002"
