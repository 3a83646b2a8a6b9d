"""The columnar engine reaches the reference model's findings on any small day: the same
outcomes for the same transactions, whatever the buckets and ranges."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.adapters import engine
from recon.adapters.engine import EngineSettings
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

CUT = 1_000_000
WINDOW = CarryWindow(bill_cut=CUT, our_cut=CUT, seconds=600)
FAILED = ("FAIL",)

kinds = st.sampled_from(Kind)
keys = st.sampled_from(["p1", "p2", "p3", "p4", "p5"])
channel_ids = st.sampled_from(["", "c1", "c2", "c3"])
amounts = st.sampled_from([100, 200])
times = st.sampled_from([CUT - 5000, CUT - 100, CUT + 100])

bills = st.builds(
    BillItem,
    kind=kinds,
    key=keys,
    channel_id=channel_ids,
    currency=st.sampled_from(["CNY", "USD"]),
    amount=amounts,
    fee=st.sampled_from([None, 1, 2]),
    succeeded=st.booleans(),
    moment=times,
    line_no=st.integers(1, 50),
    carried=st.booleans(),
)
ours = st.builds(
    OurItem,
    kind=kinds,
    key=keys,
    channel_id=channel_ids,
    currency=st.just("CNY"),
    amount=amounts,
    fee=st.sampled_from([None, 1, 2]),
    state=st.sampled_from(["succeeded", "failed", "unknown", "duplicate"]),
    moment=times,
    flagged=st.booleans(),
    carried=st.booleans(),
)
ledgers = st.builds(
    LedgerItem,
    kind=kinds,
    key=keys,
    currency=st.just("CNY"),
    debit=st.sampled_from([0, 99, 100, 200]),
    credit=st.sampled_from([0, 1, 100]),
    moment=times,
    carried=st.booleans(),
)


def _unique(items: list[OurItem]) -> list[OurItem]:
    """The gateway has one record per id."""
    seen: dict[tuple[Kind, str], OurItem] = {}
    for item in items:
        seen.setdefault((item.kind, item.key), item)
    return list(seen.values())


def _numbered(items: list[BillItem]) -> list[BillItem]:
    """A bill numbers its lines: no two lines share a number (earlier bills' carried lines
    included), so which of a key's lines is compared is never a tie."""
    return [replace(item, line_no=number) for number, item in enumerate(items, start=1)]


def run_engine(
    day_bills: list[BillItem],
    day_ours: list[OurItem],
    day_ledger: list[LedgerItem],
    config: EngineSettings,
) -> tuple[list[Finding], dict[Outcome, int]]:
    """Everything as carried input files (the run's raw inputs empty): the engine's answer."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        engine.write_csv(folder / "bill_lines.csv", engine.BILL_LINE_COLUMNS, [])
        engine.write_csv(folder / "ours.csv", engine.OURS_COLUMNS, [])
        engine.write_csv(folder / "ledger_entries.csv", engine.LEDGER_ENTRY_COLUMNS, [])
        engine.write_carried(folder, day_bills, day_ours, day_ledger)
        engine.stage(folder, config, FAILED)
        for index in range(config.ranges):
            low, high = config.range_bounds(index)
            engine.match_range(folder, low, high, config)
        return engine.finish(folder, WINDOW)


def _shape(findings: list[Finding]) -> Counter[tuple[str, str, str, int]]:
    return Counter((f.outcome.value, f.kind.value, f.key, f.duplicate_rank) for f in findings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(bills, max_size=8).map(_numbered),
    st.lists(ours, max_size=6).map(_unique),
    st.lists(ledgers, max_size=4),
)
def test_the_engine_finds_what_the_model_finds(
    day_bills: list[BillItem], day_ours: list[OurItem], day_ledger: list[LedgerItem]
) -> None:
    ledger_one = list({(i.kind, i.key): i for i in day_ledger}.values())
    expected = reconcile(day_bills, day_ours, ledger_one, WINDOW)
    found, counts = run_engine(day_bills, day_ours, ledger_one, EngineSettings(buckets=8, ranges=3))
    interesting = [
        f for f in expected if f.outcome is not Outcome.MATCHED or (f.ours and f.ours.flagged)
    ]
    assert _shape(found) == _shape(interesting)
    assert {(f.discrepancy_id("bank"), f.suspense_amount) for f in found} == {
        (f.discrepancy_id("bank"), f.suspense_amount) for f in interesting
    }
    assert sum(counts.values()) == len(expected)


def test_a_line_without_a_channel_id_ranks_as_any_other_line_the_gateway_did_not_name() -> None:
    """Two refund lines of one key, neither with the gateway's channel id: the first listed is
    compared, whether or not a line has a channel id at all (the engine reads '' as NULL)."""
    bill = [
        BillItem(Kind.REFUND, "r1", "", "CNY", 100, None, True, CUT - 5000, 7),
        BillItem(Kind.REFUND, "r1", "c2", "CNY", 100, None, True, CUT - 5000, 8),
    ]
    ours = [OurItem(Kind.REFUND, "r1", "c1", "CNY", 100, None, "succeeded", CUT - 5000)]
    found, _ = run_engine(bill, ours, [], EngineSettings(buckets=8, ranges=3))
    compared = {f.duplicate_rank: f.bill.line_no for f in found if f.bill}
    assert compared == {0: 7, 1: 8}
    assert _shape(found) == _shape(reconcile(bill, ours, [], WINDOW))
