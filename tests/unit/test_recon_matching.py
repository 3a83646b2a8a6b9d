"""The matching rules, the carry over the day-cut and the discrepancies' business actions, on
the reference model (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paysuite.errors import InvalidArgument
from recon.domain.discrepancies import (
    Action,
    ActionNotAllowed,
    Discrepancy,
    DiscrepancyResolved,
    Resolve,
    age_bucket,
    discrepancy,
    finding_from_json,
    items_json,
    resolution,
    resolved,
)
from recon.domain.matching import (
    BillItem,
    CarryWindow,
    Finding,
    Kind,
    LedgerItem,
    OurItem,
    Outcome,
    reconcile,
)

CUT = 1_800_000_000
NOON = CUT - 12 * 3600
WINDOW = CarryWindow(bill_cut=CUT, our_cut=CUT, seconds=900)
P = Kind.PAYMENT
NOW = datetime(2027, 1, 16, 2, tzinfo=UTC)


def bill(
    key: str, amount: int = 1000, *, fee: int | None = 6, ok: bool = True, **kw: object
) -> BillItem:
    values: dict[str, object] = {"channel_id": f"T{key}", "moment": NOON, "line_no": 1}
    values.update(kw)
    return BillItem(P, key, str(values.pop("channel_id")), "CNY", amount, fee, ok, **values)  # type: ignore[arg-type]


def ours(
    key: str, amount: int = 1000, *, fee: int = 6, state: str = "succeeded", **kw: object
) -> OurItem:
    values: dict[str, object] = {"channel_id": f"T{key}", "moment": NOON}
    values.update(kw)
    return OurItem(P, key, str(values.pop("channel_id")), "CNY", amount, fee, state, **values)  # type: ignore[arg-type]


def booked(key: str, amount: int = 1000, fee: int = 6, **kw: object) -> LedgerItem:
    return LedgerItem(P, key, "CNY", amount, fee, kw.pop("moment", NOON), **kw)  # type: ignore[arg-type]


def outcomes(findings: list[Finding]) -> dict[tuple[str, int], Outcome]:
    return {(f.key, f.duplicate_rank): f.outcome for f in findings}


def test_each_outcome_and_what_it_parks() -> None:
    found = reconcile(
        [
            bill("ok"),
            bill("amount", 1005),
            bill("fee", fee=7),
            bill("state", ok=False),
            bill("dup"),
            bill("dup", channel_id="Tother", line_no=2),
            bill("long", 500),
            bill("ledger"),
        ],
        [
            ours("ok"),
            ours("amount"),
            ours("fee"),
            ours("state"),
            ours("dup"),
            ours("short", 300),
            ours("ledger"),
            ours("failed", state="failed"),
        ],
        [booked(k) for k in ("ok", "amount", "fee", "state", "dup", "short")]
        + [booked("ledger", 900)],
        WINDOW,
    )
    assert outcomes(found) == {
        ("amount", 0): Outcome.AMOUNT_MISMATCH,
        ("dup", 0): Outcome.MATCHED,
        ("dup", 1): Outcome.DUPLICATE,
        ("failed", 0): Outcome.MATCHED,  # failed on our side and not on the bill: agreed
        ("fee", 0): Outcome.FEE_MISMATCH,
        ("ledger", 0): Outcome.LEDGER_MISMATCH,
        ("long", 0): Outcome.LONG,
        ("ok", 0): Outcome.MATCHED,
        ("short", 0): Outcome.SHORT,
        ("state", 0): Outcome.STATE_MISMATCH,
    }
    parked = {(f.key, f.duplicate_rank): f.suspense_amount for f in found}
    assert parked[("amount", 0)] == 5  # the channel holds 5 more than we booked
    assert parked[("fee", 0)] == -1  # it kept 1 more fee: the receivable is 1 too high
    assert parked[("state", 0)] == -1000
    assert parked[("dup", 1)] == 1000
    assert parked[("long", 0)] == 500
    assert parked[("short", 0)] == -300
    assert parked[("ledger", 0)] == 994 - 894  # capture less fee expected, 900 - 6 booked
    assert parked[("ok", 0)] == 0


def test_refunds_park_the_other_way() -> None:
    refund = OurItem(Kind.REFUND, "ref_1", "R1", "CNY", 200, None, "succeeded", NOON)
    found = reconcile([], [refund], [LedgerItem(Kind.REFUND, "ref_1", "CNY", 0, 200, NOON)], WINDOW)
    (short,) = found
    assert short.outcome is Outcome.SHORT and short.suspense_amount == 200


def test_the_channel_id_comes_first_and_our_id_second() -> None:
    # The channel garbled our order number; its transaction id still names our payment.
    found = reconcile(
        [bill("garbled", channel_id="Tpay_1")], [ours("pay_1")], [booked("pay_1")], WINDOW
    )
    assert outcomes(found) == {("pay_1", 0): Outcome.MATCHED}
    # Two lines for one order: the one with our channel id is compared, the other duplicates.
    found = reconcile(
        [bill("pay_2", channel_id="Tx", line_no=1), bill("pay_2", 999, line_no=2)],
        [ours("pay_2", 999, channel_id="Tpay_2")],
        [booked("pay_2", 999)],
        WINDOW,
    )
    assert outcomes(found) == {("pay_2", 0): Outcome.MATCHED, ("pay_2", 1): Outcome.DUPLICATE}


def test_near_the_cut_an_item_is_carried_and_matched_the_next_date() -> None:
    late = ours("late", moment=CUT - 1)  # 23:59:59, on the next day's bill
    posted = booked("late", moment=CUT + 1)
    day_one = reconcile([bill("noon")], [ours("noon"), late], [booked("noon")], WINDOW)
    assert outcomes(day_one) == {("noon", 0): Outcome.MATCHED, ("late", 0): Outcome.CARRIED}
    (carried,) = [f for f in day_one if f.outcome is Outcome.CARRIED]
    assert carried.suspense_amount == 0 and not carried.outcome.is_difference  # nothing parked

    # Next date: the carried record comes back, the bill has it, the ledger booked it after
    # its own day-cut, so on the next business date.
    next_window = CarryWindow(CUT + 86400, CUT + 86400, 900)
    back = OurItem(**{**{s: getattr(late, s) for s in late.__slots__}, "carried": True})
    day_two = reconcile([bill("late", moment=CUT + 2)], [back], [posted], next_window)
    assert outcomes(day_two) == {("late", 0): Outcome.MATCHED}

    # Still missing the next date: reported then, never carried twice.
    day_two = reconcile([], [back], [posted], next_window)
    assert outcomes(day_two) == {("late", 0): Outcome.SHORT}


def test_far_from_the_cut_a_missing_item_is_reported_at_once() -> None:
    assert outcomes(reconcile([], [ours("early")], [booked("early")], WINDOW)) == {
        ("early", 0): Outcome.SHORT
    }


def test_a_day_run_again_finds_the_same_discrepancies() -> None:
    inputs = ([bill("a", 1001), bill("b")], [ours("a"), ours("c")], [booked("a"), booked("c")])
    first = [f.discrepancy_id("bank") for f in reconcile(*inputs, WINDOW)]
    again = [f.discrepancy_id("bank") for f in reconcile(*inputs, WINDOW)]
    assert first == again and len(set(first)) == 3
    # Another difference about the same payment is another discrepancy.
    other = reconcile([bill("a", 1002)], [ours("a")], [booked("a")], WINDOW)
    assert other[0].discrepancy_id("bank") not in first


def test_a_finding_survives_its_round_trip_through_storage() -> None:
    (finding,) = reconcile([bill("x", 5)], [ours("x")], [booked("x")], WINDOW)
    assert finding_from_json(items_json(finding)) == finding


def _open(finding: Finding) -> Discrepancy:
    return discrepancy("bank", date(2027, 1, 15), "rec_1", finding, NOW)


def test_each_action_explains_only_what_it_can() -> None:
    (long,) = reconcile([bill("l", 500)], [], [], WINDOW)
    (short,) = reconcile([], [ours("s")], [booked("s")], WINDOW)
    long_item, short_item = _open(long), _open(short)
    today = date(2027, 1, 16)
    refund = resolution(long_item, Resolve("x", Action.REFUND, "refunded"), NOW, today)
    assert refund is not None and refund.counter_account_id == "channel.bank.receivable.CNY"
    with pytest.raises(ActionNotAllowed):
        resolution(short_item, Resolve("x", Action.REFUND, "no"), NOW, today)
    with pytest.raises(InvalidArgument):  # nobody's payment: name the merchant
        resolution(long_item, Resolve("x", Action.SUPPLEMENTARY_ORDER, "补单"), NOW, today)
    order = resolution(
        long_item,
        Resolve("x", Action.SUPPLEMENTARY_ORDER, "补单", merchant_id="M1"),
        NOW,
        today,
    )
    assert order is not None and order.counter_account_id == "merchant.M1.payable.CNY"
    with pytest.raises(InvalidArgument):
        resolution(short_item, Resolve("x", Action.WRITE_OFF, "lost"), NOW, today)
    off = resolution(short_item, Resolve("x", Action.WRITE_OFF, "lost", "cfo"), NOW, today)
    assert off is not None and off.counter_account_id == "platform.recon_write_off.CNY"
    done = resolved(short_item, off)
    assert resolution(done, Resolve("x", Action.WRITE_OFF, "again", "cfo"), NOW, today) is None
    with pytest.raises(DiscrepancyResolved):
        resolution(done, Resolve("x", Action.REFUND, "other"), NOW, today)


def test_parking_posts_to_suspense_and_the_item_is_named_after_it() -> None:
    (long,) = reconcile([bill("l", 500)], [], [], WINDOW)
    item = discrepancy("bank", date(2027, 1, 15), "rec_1", long, NOW)
    assert item.parking() == ("channel.bank.receivable.CNY", "channel.bank.suspense.CNY", 500)
    assert item.suspense_item_id == f"recon:{item.discrepancy_id}:park:0C"


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0-1 days"), (1, "0-1 days"), (5, "2-7 days"), (30, "8-30 days"), (31, "over 30 days")],
)
def test_open_items_age(days: int, bucket: str) -> None:
    assert (
        age_bucket(date(2027, 1, 1), date.fromordinal(date(2027, 1, 1).toordinal() + days))
        == bucket
    )
