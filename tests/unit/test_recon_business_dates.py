"""Which of the ledger's entries beside a run's business date the run takes: those of its
records (by transaction, whatever the business date), handing on to the next date its own
business date's entries posted after the gateway's day ended that none of its records has."""

from __future__ import annotations

from pathlib import Path

from recon.adapters import engine
from recon.adapters.business_dates import NEXT_ENTRIES, TAKEN, sort_out, transfer_id
from recon.domain.matching import Kind, LedgerItem

CUT = 1_000_000


def _entries(path: Path, *rows: tuple[str, str, int, int]) -> None:
    engine.write_csv(
        path,
        engine.LEDGER_ENTRY_COLUMNS,
        ((transfer, side, amount, "CNY", moment) for transfer, side, amount, moment in rows),
    )


def _ours(path: Path, *keys: tuple[str, str]) -> None:
    engine.write_csv(
        path,
        engine.OURS_COLUMNS,
        ((kind, key, "", "CNY", 100, 0, "succeeded", False, "M", CUT - 1) for kind, key in keys),
    )


def test_nothing_beside_the_date_takes_nothing(tmp_path: Path) -> None:
    _entries(tmp_path / f"{NEXT_ENTRIES}-CNY.csv")
    _ours(tmp_path / "ours.csv", ("payment", "pay_1"))
    assert sort_out(tmp_path, [tmp_path / "ours.csv"], None).claimed == []
    assert not (tmp_path / TAKEN).exists()


def test_entries_beside_the_date_are_taken_by_transaction(tmp_path: Path) -> None:
    _ours(tmp_path / "ours.csv", ("payment", "pay_late"), ("refund", "ref_1"), ("payment", "p2"))
    engine.write_carried(
        tmp_path,
        [],
        [],
        [LedgerItem(Kind.PAYMENT, "p2", "CNY", 100, 0, CUT - 1, carried=True)],
    )
    _entries(
        tmp_path / f"{NEXT_ENTRIES}-CNY.csv",
        ("pay_late:capture", "D", 1000, CUT + 5),  # of a record: claimed
        ("pay_late:capture", "C", 6, CUT + 5),
        ("pay_next:capture", "D", 500, CUT + 60),  # the next date's own
        ("p2:capture", "D", 100, CUT + 9),  # carried in already: not twice
        ("settle:1", "C", 99, CUT + 70),  # not a transaction's
    )
    _entries(
        tmp_path / "late_entries-CNY.csv",
        ("ref_1:refund", "C", 300, CUT + 3),  # of a record, posted after the cut: taken
        ("pay_tomorrow:capture", "D", 700, CUT + 30),  # of no record: handed on
    )
    found = sort_out(
        tmp_path,
        [tmp_path / "ours.csv", tmp_path / engine.CARRIED["ours"]],
        tmp_path / engine.CARRIED["ledger"],
    )
    assert found.claimed == [LedgerItem(Kind.PAYMENT, "pay_late", "CNY", 1000, 6, CUT + 5)]
    assert found.handed_on == [LedgerItem(Kind.PAYMENT, "pay_tomorrow", "CNY", 700, 0, CUT + 30)]
    taken = (tmp_path / TAKEN).read_text().splitlines()
    assert taken[0] == ",".join(engine.LEDGER_ENTRY_COLUMNS)
    assert sorted(line.split(",")[0] for line in taken[1:]) == [
        "pay_late:capture",
        "pay_late:capture",
        "ref_1:refund",
    ]
    assert transfer_id(Kind.REFUND, "ref_1") == "ref_1:refund"
