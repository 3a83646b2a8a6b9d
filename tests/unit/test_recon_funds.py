"""The reserve account's matching rules: what a statement entry is, the transfer that books it,
and a channel's settlement of a date matched, short, missing, over-paid or not due yet."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from recon.domain.funds import (
    BalanceCheck,
    EntryKind,
    Outcome,
    Position,
    Posting,
    ReserveEntry,
    ReserveLine,
    as_booked,
    classify,
    entry_transfer,
    is_due,
    payout_matched_later,
    position_difference,
    settle,
)

CHANNELS = {"banksim": 1, "alipaysim": 1}
DAY = date(2026, 12, 5)
RESERVE = "platform.reserve.CNY"
RESERVE_SUSPENSE = "platform.reserve_suspense.CNY"
PAYOUTS = "channel.banksim.payouts.CNY"


def _line(e2e: str, amount: int = 10_000, *, credit: bool = True) -> ReserveLine:
    return ReserveLine("S20261206000000000001", e2e, credit, amount, "CNY", 7)


@pytest.mark.parametrize(
    ("line", "kind", "channel", "business_date", "payout_id"),
    [
        (_line("STL-alipaysim-20261205"), EntryKind.ARRIVAL, "alipaysim", DAY, ""),
        (_line("STL-unknownsim-20261205"), EntryKind.UNEXPECTED, "unknownsim", DAY, ""),
        (_line("STL-alipaysim-20261340"), EntryKind.UNEXPECTED, "", None, ""),
        (_line("STL-alipaysim-20261205", credit=False), EntryKind.UNEXPECTED, "", None, ""),
        (_line("po_123", credit=False), EntryKind.PAYOUT, "", None, "po_123"),
        (_line("po_123"), EntryKind.PAYOUT_RETURN, "", None, "po_123"),
        (_line(""), EntryKind.UNEXPECTED, "", None, ""),
    ],
)
def test_an_entry_is_told_by_its_direction_and_end_to_end_id(
    line: ReserveLine, kind: EntryKind, channel: str, business_date: date | None, payout_id: str
) -> None:
    entry = classify(line, CHANNELS)

    assert (entry.kind, entry.channel, entry.business_date, entry.payout_id) == (
        kind,
        channel,
        business_date,
        payout_id,
    )
    assert entry.transfer_id == "funds:S20261206000000000001"


def test_an_arrival_clears_the_channels_receivable_into_the_reserve_account() -> None:
    entry = classify(_line("STL-alipaysim-20261205", 9_000), CHANNELS)

    transfer, found = entry_transfer(entry, "banksim", None)

    assert transfer.postings == (Posting(RESERVE, "channel.alipaysim.receivable.CNY", 9_000),)
    assert found is None


def test_a_payout_clears_what_the_ledger_booked_to_the_banks_payouts_account() -> None:
    entry = classify(_line("po_1", 20_100, credit=False), CHANNELS)

    transfer, found = entry_transfer(entry, "banksim", 20_100)

    assert transfer.postings == (Posting(PAYOUTS, RESERVE, 20_100),)
    assert found is None


@pytest.mark.parametrize(
    ("debited", "booked", "rest", "parked"),
    [
        (20_300, 20_100, Posting(RESERVE_SUSPENSE, RESERVE, 200), -200),
        (20_000, 20_100, Posting(PAYOUTS, RESERVE_SUSPENSE, 100), 100),
    ],
)
def test_a_payout_debited_otherwise_than_booked_leaves_the_difference_in_suspense(
    debited: int, booked: int, rest: Posting, parked: int
) -> None:
    entry = classify(_line("po_1", debited, credit=False), CHANNELS)

    transfer, found = entry_transfer(entry, "banksim", booked)

    assert transfer.postings == (Posting(PAYOUTS, RESERVE, min(debited, booked)), rest)
    assert found is not None
    assert (found.kind, found.expected, found.actual, found.parked) == (
        "payout_amount",
        -booked,
        -debited,
        parked,
    )


def test_a_returned_payout_credits_the_banks_payouts_account_back() -> None:
    entry = classify(_line("po_1", 20_000), CHANNELS)

    transfer, _ = entry_transfer(entry, "banksim", None)

    assert transfer.postings == (Posting(RESERVE, PAYOUTS, 20_000),)


@pytest.mark.parametrize(
    ("credit", "posting"),
    [
        (True, Posting(RESERVE, RESERVE_SUSPENSE, 500)),
        (False, Posting(RESERVE_SUSPENSE, RESERVE, 500)),
    ],
)
def test_an_unexplained_movement_is_parked_in_the_reserve_accounts_suspense(
    credit: bool, posting: Posting
) -> None:
    entry = classify(_line("", 500, credit=credit), CHANNELS)

    transfer, found = entry_transfer(entry, "banksim", None)

    assert transfer.postings == (posting,)
    assert found is not None
    assert (found.kind, found.parked) == ("unexpected", 500 if credit else -500)


def test_a_payout_the_ledger_never_booked_is_unexpected() -> None:
    entry = ReserveEntry(_line("po_x", 700, credit=False), EntryKind.UNEXPECTED, payout_id="po_x")

    transfer, found = entry_transfer(entry, "banksim", None)

    assert transfer.postings == (Posting(RESERVE_SUSPENSE, RESERVE, 700),)
    assert found is not None and found.kind == "unexpected"


def _position(expected: int, arrived: int, parked: int = 0, parks: int = 0) -> Position:
    return Position("alipaysim", DAY, "CNY", expected, arrived, parked, parks)


SUSPENSE = "channel.alipaysim.suspense.CNY"
RECEIVABLE = "channel.alipaysim.receivable.CNY"


@pytest.mark.parametrize(
    ("position", "due", "outcome", "posting"),
    [
        (_position(13_910, 13_910), True, Outcome.MATCHED, None),
        (_position(13_910, 13_810), True, Outcome.SHORT, Posting(SUSPENSE, RECEIVABLE, 100)),
        (_position(13_910, 0), True, Outcome.MISSING, Posting(SUSPENSE, RECEIVABLE, 13_910)),
        (_position(13_910, 14_000), True, Outcome.OVER, Posting(RECEIVABLE, SUSPENSE, 90)),
        (_position(13_910, 0), False, Outcome.PENDING, None),
        # Paid before it was due: the difference is known as soon as the money is.
        (_position(13_910, 13_000), False, Outcome.SHORT, Posting(SUSPENSE, RECEIVABLE, 910)),
    ],
)
def test_a_channels_settlement_of_a_date_against_what_the_ledger_expects(
    position: Position, due: bool, outcome: Outcome, posting: Posting | None
) -> None:
    settled, clearing, park = settle(position, due)

    assert settled.outcome is outcome
    assert clearing is None  # nothing was parked before
    assert (park.postings if park else None) == ((posting,) if posting else None)
    assert settled.parked == (position.expected - position.arrived if posting else 0)


def test_a_missing_settlement_that_arrives_later_is_cleared_out_of_suspense_once() -> None:
    missing, _, first = settle(_position(13_910, 0), True)
    assert first is not None and missing.outcome is Outcome.MISSING
    assert first.transfer_id == "funds:park:alipaysim:2026-12-05:CNY:1"

    arrived, clearing, park = settle(replace(missing, arrived=13_910), True)
    again = settle(arrived, True)

    assert park is None
    assert clearing is not None
    assert (clearing.item_id, clearing.counter_account_id, clearing.business_reference) == (
        "funds:park:alipaysim:2026-12-05:CNY:1:0D",
        RECEIVABLE,
        "STL-alipaysim-20261205",
    )
    assert clearing.transfer_id == "funds:clear:park:alipaysim:2026-12-05:CNY:1"
    assert (arrived.outcome, arrived.parked, arrived.parks) == (Outcome.MATCHED, 0, 1)
    assert again == (arrived, None, None)
    assert position_difference(arrived) is None


def test_part_of_a_missing_settlement_arriving_clears_the_item_and_parks_the_rest() -> None:
    missing, _, _ = settle(_position(13_910, 0), True)

    short, clearing, park = settle(replace(missing, arrived=13_000), True)

    assert clearing is not None and clearing.item_id.endswith(":CNY:1:0D")
    assert park is not None
    assert park.transfer_id == "funds:park:alipaysim:2026-12-05:CNY:2"
    assert park.postings == (Posting(SUSPENSE, RECEIVABLE, 910),)
    assert (short.outcome, short.parked, short.parks) == (Outcome.SHORT, 910, 2)


def test_an_over_paid_settlement_parks_a_credit_item() -> None:
    over, _, _ = settle(_position(13_910, 14_000), True)

    matched, clearing, _ = settle(replace(over, expected=14_000), True)

    assert clearing is not None and clearing.item_id.endswith(":CNY:1:0C")
    assert matched.outcome is Outcome.MATCHED


def test_a_short_settlement_is_a_difference_naming_the_channels_reference() -> None:
    settled, _, _ = settle(_position(13_910, 13_810), True)

    found = position_difference(settled)

    assert found is not None
    assert (found.kind, found.reference, found.expected, found.actual, found.parked) == (
        "short",
        "STL-alipaysim-20261205",
        13_910,
        13_810,
        100,
    )


def test_a_settlement_is_due_its_lag_after_the_business_date() -> None:
    assert not is_due(1, DAY, DAY)
    assert is_due(1, DAY, date(2026, 12, 6))
    assert is_due(0, DAY, DAY)


@pytest.mark.parametrize(
    ("closing", "ledger", "balanced"), [(13_910, 13_910, True), (13_810, 13_910, False)]
)
def test_the_ledgers_reserve_account_against_the_banks_closing_balance(
    closing: int, ledger: int, balanced: bool
) -> None:
    assert BalanceCheck("CNY", closing, ledger).balanced is balanced
    assert BalanceCheck("CNY", None, 0).balanced is False


def test_a_payout_booked_later_clears_its_unexpected_item_to_the_payouts_account() -> None:
    entry = classify(_line("po_1", 20_100, credit=False), CHANNELS)

    clearing, rest, found = payout_matched_later(entry, "banksim", 20_100)

    assert (clearing.transfer_id, clearing.item_id, clearing.counter_account_id) == (
        "funds:S20261206000000000001:matched",
        "funds:S20261206000000000001:0D",
        PAYOUTS,
    )
    assert (clearing.business_reference, rest, found) == ("po_1", None, None)


@pytest.mark.parametrize(
    ("booked", "posting"),
    [
        (20_300, Posting(PAYOUTS, RESERVE_SUSPENSE, 200)),
        (20_000, Posting(RESERVE_SUSPENSE, PAYOUTS, 100)),
    ],
)
def test_a_payout_booked_later_otherwise_than_debited_leaves_the_rest_in_suspense(
    booked: int, posting: Posting
) -> None:
    entry = classify(_line("po_1", 20_100, credit=False), CHANNELS)

    _, rest, found = payout_matched_later(entry, "banksim", booked)

    assert rest is not None and rest.postings == (posting,)
    assert found is not None and found.parked == booked - 20_100


def test_an_entry_booked_before_keeps_what_it_was_booked_as_whichever_channels_settle_now() -> None:
    line = _line("STL-alipaysim-20261205")
    now_unknown = classify(line, {"banksim": 1})
    now_known = classify(line, CHANNELS)

    assert as_booked(now_unknown, "arrival").kind is EntryKind.ARRIVAL
    assert as_booked(now_unknown, "arrival").channel == "alipaysim"
    assert as_booked(now_known, "unexpected").kind is EntryKind.UNEXPECTED
    assert as_booked(now_known, None) == now_known
    assert entry_transfer(as_booked(now_known, "unexpected"), "banksim", None)[0].postings == (
        Posting(RESERVE, RESERVE_SUSPENSE, 10_000),
    )
