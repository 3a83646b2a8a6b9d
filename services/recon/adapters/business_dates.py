"""The ledger's entries a run takes across the ledger's business-date cut.

A run of a channel's date D reads the entries on the channel's receivable of the ledger's
business date D, and beside them (in side files) those of business date D+1 and those of D
posted at or after the gateway's day ended (Shanghai midnight). The ledger's cut (RunDayCut)
runs when it runs, so a transaction of the gateway's date D may be booked on business date D+1
(captured at 23:59:59, posted after the cut), and one of D+1 on business date D (posted after
midnight, before a late cut). A ledger transfer is matched by its transaction (the transfer id
is the payment's or the refund's id), not by its business date:

- side entries whose transaction is one of the run's records are the run's (`taken`): those of
  D+1 among them are claimed, and the run of D+1 leaves them out;
- entries of D posted after the gateway's day ended that no record of the run has are handed
  to the run of D+1 (`handed_on`), where they meet their record or are reported;
- other entries of D+1 are D+1's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recon.adapters import engine
from recon.domain.matching import Kind, LedgerItem

NEXT_ENTRIES = "next_entries"  # business date D+1, a file per currency
LATE_ENTRIES = "late_entries"  # business date D, posted at or after the gateway's cut
TAKEN = "ledger_entries-taken.csv"  # what the run takes of them, read with its own entries

_ENTRY = {
    "transfer_id": "VARCHAR",
    "side": "VARCHAR",
    "amount": "BIGINT",
    "currency": "VARCHAR",
    "moment": "BIGINT",
}


def transfer_id(kind: Kind, key: str) -> str:
    """The ledger transfer that books a transaction on the receivable."""
    return f"{key}:capture" if kind is Kind.PAYMENT else f"{key}:refund"


@dataclass(frozen=True, slots=True)
class Sorted:
    """Claimed: the next business date's transfers the run took; handed_on: its own business
    date's transfers, posted after the gateway's cut, that belong to no record of the run."""

    claimed: list[LedgerItem]
    handed_on: list[LedgerItem]


def _csv(pattern: Path, columns: dict[str, str]) -> str:
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (
        f"read_csv('{pattern}', header = true, columns = {{{spec}}}, nullstr = '', "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"')"
    )


def _has_rows(folder: Path, prefix: str) -> bool:
    for path in folder.glob(f"{prefix}*.csv"):
        with path.open() as lines:
            if next(lines, None) is not None and next(lines, None) is not None:
                return True
    return False


def sort_out(folder: Path, keys_from: list[Path], carried_ledger: Path | None) -> Sorted:
    """Sorts the run's side entries (see the module); writes what the run takes to TAKEN, read
    with its own entries. keys_from: the run's records (the gateway's, and those carried in);
    a key whose ledger item is carried in (carried_ledger) takes nothing more."""
    taken_path = folder / TAKEN
    if not (_has_rows(folder, NEXT_ENTRIES) or _has_rows(folder, LATE_ENTRIES)):
        return Sorted([], [])
    db = engine.connect(folder, 1, 512)
    entries = " UNION ALL ".join(
        f"SELECT *, '{source}' AS source FROM {_csv(folder / f'{source}*.csv', _ENTRY)}"
        for source in (NEXT_ENTRIES, LATE_ENTRIES)
        if any(folder.glob(f"{source}*.csv"))
    )
    db.execute(f"""
        CREATE TEMP TABLE side AS SELECT *,
            CASE WHEN ends_with(transfer_id, ':capture') THEN 'payment' ELSE 'refund' END AS kind,
            left(transfer_id, length(transfer_id)
                - CASE WHEN ends_with(transfer_id, ':capture') THEN 8 ELSE 7 END) AS key
        FROM ({entries})
        WHERE ends_with(transfer_id, ':capture') OR ends_with(transfer_id, ':refund')
    """)
    records = " UNION ALL ".join(
        f"SELECT kind, key FROM read_csv('{path}', header = true, all_varchar = true)"
        for path in keys_from
        if path.exists()
    )
    # Only the records of the few keys beside the date: the side's keys are the hash built.
    db.execute(f"""
        CREATE TEMP TABLE records AS SELECT DISTINCT kind, key FROM ({records})
        WHERE key IN (SELECT key FROM side)
    """)
    if carried_ledger is not None and carried_ledger.exists():
        db.execute(f"""
            DELETE FROM records r WHERE EXISTS (
                SELECT 1 FROM read_csv('{carried_ledger}', header = true, all_varchar = true) c
                WHERE c.kind = r.kind AND c.key = r.key)
        """)
    db.execute("""
        CREATE TEMP TABLE taken AS
        SELECT s.* FROM side s SEMI JOIN records r ON r.kind = s.kind AND r.key = s.key
    """)
    db.execute(
        f"COPY (SELECT transfer_id, side, amount, currency, moment FROM taken) "
        f"TO '{taken_path}' (HEADER, FORMAT csv)"
    )
    items = """
        SELECT kind, key, any_value(currency),
            CAST(sum(CASE WHEN side = 'D' THEN amount ELSE 0 END) AS BIGINT),
            CAST(sum(CASE WHEN side = 'C' THEN amount ELSE 0 END) AS BIGINT),
            max(moment)
        FROM {table} WHERE source = '{source}' GROUP BY transfer_id, kind, key ORDER BY key
    """
    claimed = db.execute(items.format(table="taken", source=NEXT_ENTRIES)).fetchall()
    db.execute("""
        CREATE TEMP TABLE left_over AS
        SELECT s.* FROM side s ANTI JOIN records r ON r.kind = s.kind AND r.key = s.key
    """)
    handed_on = db.execute(items.format(table="left_over", source=LATE_ENTRIES)).fetchall()
    db.close()
    return Sorted(
        [LedgerItem(Kind(k), key, c, d, cr, m) for k, key, c, d, cr, m in claimed],
        [LedgerItem(Kind(k), key, c, d, cr, m) for k, key, c, d, cr, m in handed_on],
    )
