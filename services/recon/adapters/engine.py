"""The columnar matching engine: DuckDB over a run's staged files, a bucket range at a time.

A run's inputs arrive as CSV files in its staging folder (see Inputs). `stage` normalises them
into items keyed by kind and our id, hashes each key into one of `buckets` (1024 by default)
and writes them as Parquet partitioned by bucket range. `match_range` compares one range's
items by the rules of recon.domain.matching and writes what did not simply match; ranges are
independent, so they run in parallel worker processes here (run_ranges) and, past one machine,
as the completions of a Kubernetes Indexed Job over a shared folder
(`python -m recon.entrypoints.bucket_job`). `finish` pairs the long and short items left over
by the channel's transaction id, carries what is missing near the day-cut, and returns the
findings that are not plain matches (and every flagged payment's) with the counts.

No row of millions ever passes through Python: only the findings do.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from recon.domain.matching import (
    SUCCEEDED_STATES,
    BillItem,
    CarryWindow,
    Finding,
    Kind,
    LedgerItem,
    OurItem,
    Outcome,
)

BILL_LINES = "bill_lines*.csv"  # statement lines as recon stores them (fee in minor units)
OURS = "ours*.csv"  # the gateway's records
LEDGER_ENTRIES = "ledger_entries*.csv"  # entries on the channel's receivable accounts, a file each
CARRIED = {"bill": "carried_bill.csv", "ours": "carried_ours.csv", "ledger": "carried_ledger.csv"}

BILL_LINE_COLUMNS = {
    "kind": "VARCHAR",
    "order_id": "VARCHAR",
    "channel_transaction_id": "VARCHAR",
    "refund_id": "VARCHAR",
    "channel_refund_id": "VARCHAR",
    "currency": "VARCHAR",
    "amount": "BIGINT",
    "fee": "BIGINT",
    "status": "VARCHAR",
    "moment": "BIGINT",
    "line_no": "BIGINT",
}
OURS_COLUMNS = {
    "kind": "VARCHAR",
    "key": "VARCHAR",
    "channel_id": "VARCHAR",
    "currency": "VARCHAR",
    "amount": "BIGINT",
    "fee": "BIGINT",
    "state": "VARCHAR",
    "flagged": "BOOLEAN",
    "merchant_id": "VARCHAR",
    "moment": "BIGINT",
}
LEDGER_ENTRY_COLUMNS = {
    "transfer_id": "VARCHAR",
    "side": "VARCHAR",
    "amount": "BIGINT",
    "currency": "VARCHAR",
    "moment": "BIGINT",
}
_CARRY = {"carried": "BOOLEAN", "open_id": "VARCHAR"}
ITEM_COLUMNS = {
    "bill": {
        "kind": "VARCHAR",
        "key": "VARCHAR",
        "channel_id": "VARCHAR",
        "currency": "VARCHAR",
        "amount": "BIGINT",
        "fee": "BIGINT",
        "succeeded": "BOOLEAN",
        "moment": "BIGINT",
        "line_no": "BIGINT",
        **_CARRY,
    },
    "ours": {**OURS_COLUMNS, "succeeded": "BOOLEAN", **_CARRY},
    "ledger": {
        "kind": "VARCHAR",
        "key": "VARCHAR",
        "currency": "VARCHAR",
        "debit": "BIGINT",
        "credit": "BIGINT",
        "moment": "BIGINT",
        **_CARRY,
    },
}
_PREFIX = {"bill": "b", "ours": "g", "ledger": "l"}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Buckets, the ranges they are matched in, worker processes, and each one's DuckDB."""

    buckets: int = 1024
    ranges: int = 4
    workers: int = 2
    threads: int = 1
    memory_limit_mb: int = 600

    def range_bounds(self, index: int) -> tuple[int, int]:
        per = -(-self.buckets // self.ranges)
        return index * per, min(self.buckets, (index + 1) * per) - 1


@dataclass(frozen=True, slots=True)
class Counts:
    bill: int
    ours: int
    ledger: int
    carried_in: int


def connect(
    folder: Path, threads: int, memory_limit_mb: int, spill: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB spilling to `spill` (default the folder's own): a directory per process, as
    processes that share one would share its temporary files' names."""
    db = duckdb.connect()
    spill = spill or folder / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    db.execute(f"SET threads = {threads}")
    db.execute(f"SET memory_limit = '{memory_limit_mb}MB'")
    db.execute(f"SET temp_directory = '{spill}'")
    db.execute("SET preserve_insertion_order = false")
    return db


def _csv(path: Path, columns: dict[str, str]) -> str:
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (
        f"read_csv('{path}', header = true, columns = {{{spec}}}, nullstr = '', "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"')"
    )


def _quoted(words: Iterable[str]) -> str:
    return ", ".join("'" + w.replace("'", "''") + "'" for w in sorted(words))


def _bucketed(select: str, settings: EngineSettings) -> str:
    per = -(-settings.buckets // settings.ranges)
    return f"""
        SELECT *, bucket // {per} AS part FROM (
            SELECT *, CAST(hash(kind || ':' || key) % {settings.buckets} AS INTEGER) AS bucket
            FROM ({select}))
    """


SOURCES = ("bill", "ours", "ledger")


def stage(
    folder: Path,
    settings: EngineSettings,
    failure_states: Iterable[str],
    sources: Iterable[str] = SOURCES,
) -> dict[str, tuple[int, int]]:
    """Normalises the run's CSV inputs of the sources into bucketed Parquet items; each
    source's (items, carried items). Sources can be staged apart, as their files arrive."""
    db = connect(folder, max(settings.workers, settings.threads), settings.memory_limit_mb)
    words = _quoted(w.upper() for w in failure_states)
    carried = {
        source: _csv(folder / name, ITEM_COLUMNS[source]) for source, name in CARRIED.items()
    }
    bill = f"""
        SELECT kind,
            CASE WHEN kind = 'refund'
                THEN coalesce(nullif(refund_id, ''), 'ch:' || channel_refund_id)
                ELSE coalesce(nullif(order_id, ''), 'ch:' || channel_transaction_id) END AS key,
            CASE WHEN kind = 'refund' THEN channel_refund_id ELSE channel_transaction_id END
                AS channel_id,
            currency, amount, fee, upper(status) NOT IN ({words}) AS succeeded, moment, line_no,
            false AS carried, '' AS open_id
        FROM {_csv(folder / BILL_LINES, BILL_LINE_COLUMNS)}
        WHERE kind IN ('payment', 'refund')
        UNION ALL SELECT * FROM {carried["bill"]}
    """
    ours = f"""
        SELECT *, state IN ({_quoted(SUCCEEDED_STATES)}) AS succeeded,
            false AS carried, '' AS open_id
        FROM {_csv(folder / OURS, OURS_COLUMNS)}
        UNION ALL SELECT * FROM {carried["ours"]}
    """
    ledger = f"""
        SELECT CASE WHEN ends_with(transfer_id, ':capture') THEN 'payment' ELSE 'refund' END
                AS kind,
            left(transfer_id, length(transfer_id)
                - CASE WHEN ends_with(transfer_id, ':capture') THEN 8 ELSE 7 END) AS key,
            any_value(currency) AS currency,
            CAST(sum(CASE WHEN side = 'D' THEN amount ELSE 0 END) AS BIGINT) AS debit,
            CAST(sum(CASE WHEN side = 'C' THEN amount ELSE 0 END) AS BIGINT) AS credit,
            max(moment) AS moment, false AS carried, '' AS open_id
        FROM {_csv(folder / LEDGER_ENTRIES, LEDGER_ENTRY_COLUMNS)}
        WHERE ends_with(transfer_id, ':capture') OR ends_with(transfer_id, ':refund')
        GROUP BY transfer_id
        UNION ALL SELECT * FROM {carried["ledger"]}
    """
    selects = {"bill": bill, "ours": ours, "ledger": ledger}
    staged = list(sources)
    for source in staged:
        query = _bucketed(selects[source], settings)
        db.execute(
            f"COPY ({query}) TO '{folder / source}' "
            "(FORMAT parquet, PARTITION_BY (part), OVERWRITE_OR_IGNORE)"
        )
        if not any((folder / source).glob("*/*.parquet")):  # nothing: an empty file to read
            (folder / source / "part=0").mkdir(parents=True)
            db.execute(
                f"COPY (SELECT * EXCLUDE (part) FROM ({query}) LIMIT 0) "
                f"TO '{folder / source / 'part=0' / 'empty.parquet'}' (FORMAT parquet)"
            )
    count: dict[str, tuple[int, int]] = {}
    for source in staged:
        row = db.execute(
            f"SELECT count(*), count(*) FILTER (WHERE carried) FROM "
            f"read_parquet('{folder / source}/*/*.parquet')"
        ).fetchone()
        count[source] = (int(row[0]), int(row[1])) if row else (0, 0)
    db.close()
    return count


def counts(staged: dict[str, tuple[int, int]]) -> Counts:
    """The items each source had of its own, and those carried in."""
    return Counts(
        bill=staged["bill"][0] - staged["bill"][1],
        ours=staged["ours"][0] - staged["ours"][1],
        ledger=staged["ledger"][0] - staged["ledger"][1],
        carried_in=sum(c[1] for c in staged.values()),
    )


def _columns(source: str) -> str:
    prefix = _PREFIX[source]
    return ", ".join(f"{prefix}.{c} AS {prefix}_{c}" for c in ITEM_COLUMNS[source])


_EXPECTED = """CASE WHEN g_key IS NULL OR NOT g_succeeded THEN 0
    WHEN g_kind = 'payment' THEN g_amount - coalesce(g_fee, 0) ELSE -g_amount END"""
_LEDGER_NET = "coalesce(l_debit - l_credit, 0)"
# recon.domain.matching.compare, over a pair's b_*, g_* and l_* columns.
COMPARE = f"""CASE
    WHEN b_key IS NULL AND g_key IS NULL
        THEN CASE WHEN {_LEDGER_NET} <> 0 THEN 'ledger_mismatch' ELSE 'matched' END
    WHEN g_key IS NULL THEN CASE WHEN b_succeeded THEN 'long' ELSE 'matched' END
    WHEN b_key IS NULL AND g_succeeded THEN 'short'
    WHEN b_key IS NOT NULL AND b_succeeded <> g_succeeded THEN 'state_mismatch'
    WHEN b_key IS NOT NULL AND g_succeeded AND (b_currency <> g_currency OR b_amount <> g_amount)
        THEN 'amount_mismatch'
    WHEN b_key IS NOT NULL AND g_succeeded AND b_fee IS NOT NULL AND g_fee IS NOT NULL
        AND b_fee <> g_fee THEN 'fee_mismatch'
    WHEN ({_EXPECTED}) <> {_LEDGER_NET} THEN 'ledger_mismatch'
    ELSE 'matched' END"""


RESULTS = "results"


def result_file(folder: Path, low: int, high: int) -> Path:
    """What a range found that is not a plain match, renamed into place once written."""
    return folder / RESULTS / f"range-{low:05d}-{high:05d}.parquet"


def done_file(folder: Path, low: int, high: int) -> Path:
    """A range's done marker (its plain matches, as JSON), written after its result: a range
    whose marker is there has its result complete, whoever matched it (a worker process here,
    a pod of the Indexed Job)."""
    return result_file(folder, low, high).with_suffix(".done")


def write_atomically(path: Path, text: str) -> None:
    """Written beside, then renamed over: a reader on the shared volume sees all or none."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def match_range(folder: Path, low: int, high: int, settings: EngineSettings) -> int:
    """Matches buckets low..high of a staged run; writes what is not a plain match. Returns the
    number of plain matches (which are only counted)."""
    per = -(-settings.buckets // settings.ranges)
    spill = folder / "spill" / f"range-{low:05d}-{os.getpid()}"
    db = connect(folder, settings.threads, settings.memory_limit_mb, spill)
    for source, prefix in _PREFIX.items():
        db.execute(
            f"CREATE TEMP TABLE {prefix} AS SELECT * EXCLUDE (bucket, part) FROM "
            f"read_parquet('{folder / source}/*/*.parquet', hive_partitioning = true) "
            f"WHERE part BETWEEN {low // per} AND {high // per} "
            f"AND bucket BETWEEN {low} AND {high}"
        )
    # Only keys the bill lists more than once need their lines ranked: the line with the
    # gateway's channel id is compared, the others are duplicates.
    db.execute("""
        CREATE TEMP TABLE twice AS SELECT kind, key FROM b GROUP BY ALL HAVING count(*) > 1;
        CREATE TEMP TABLE ranked AS SELECT b.*, row_number() OVER (
            PARTITION BY b.kind, b.key ORDER BY
                coalesce(g.channel_id <> '' AND b.channel_id = g.channel_id, false) DESC,
                b.carried DESC, b.line_no) AS rank
        FROM b SEMI JOIN twice USING (kind, key)
        LEFT JOIN g ON g.kind = b.kind AND g.key = b.key;
        CREATE TEMP VIEW first AS
            SELECT * FROM b ANTI JOIN twice USING (kind, key)
            UNION ALL SELECT * EXCLUDE (rank) FROM ranked WHERE rank = 1;
    """)
    pairs = f"""
        SELECT coalesce(b.kind, g.kind, l.kind) AS kind, coalesce(b.key, g.key, l.key) AS key,
            0 AS dup_rank, {_columns("bill")}, {_columns("ours")}, {_columns("ledger")}
        FROM first b
        FULL JOIN g ON g.kind = b.kind AND g.key = b.key
        FULL JOIN l ON l.kind = coalesce(b.kind, g.kind) AND l.key = coalesce(b.key, g.key)
    """
    duplicates = f"""
        SELECT 'duplicate' AS outcome, b.kind, b.key, b.rank - 1 AS dup_rank,
            {_columns("bill")}, {_columns("ours")},
            {", ".join(f"NULL AS l_{c}" for c in ITEM_COLUMNS["ledger"])}
        FROM (SELECT * EXCLUDE (rank), rank FROM ranked WHERE rank > 1) b
        LEFT JOIN g ON g.kind = b.kind AND g.key = b.key
    """
    # Two passes over the join, rather than a table of every pair: the few that are not plain
    # matches with all their columns, then how many plain matches there were.
    db.execute(f"""
        CREATE TEMP TABLE compared AS
        SELECT * FROM (SELECT {COMPARE} AS outcome, * FROM ({pairs}))
        WHERE outcome <> 'matched' OR coalesce(g_flagged, false)
        UNION ALL BY NAME {duplicates}
    """)
    path = result_file(folder, low, high)
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    db.execute(f"COPY compared TO '{temporary}' (FORMAT parquet)")
    matched = db.execute(
        f"SELECT count(*) FROM ({pairs}) WHERE ({COMPARE}) = 'matched' "
        "AND NOT coalesce(g_flagged, false)"
    ).fetchone()
    db.close()
    shutil.rmtree(spill, ignore_errors=True)
    os.replace(temporary, path)
    plain = int(matched[0]) if matched else 0
    write_atomically(done_file(folder, low, high), json.dumps({"matched": plain}))
    return plain


def _match_range_job(args: tuple[Path, int, int, EngineSettings]) -> tuple[int, int, int]:
    folder, low, high, settings = args
    return low, high, match_range(folder, low, high, settings)


def run_ranges(folder: Path, settings: EngineSettings, progress: Callable[[int], None]) -> None:
    """Matches every range in worker processes (spawned: the caller runs an event loop and gRPC
    threads, which do not survive a fork); `progress` gets the buckets done so far."""
    ranges = [settings.range_bounds(i) for i in range(settings.ranges)]
    jobs = [(folder, low, high, settings) for low, high in ranges if low <= high]
    done = 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=settings.workers, mp_context=context) as pool:
        for future in as_completed([pool.submit(_match_range_job, job) for job in jobs]):
            low, high, _ = future.result()
            done += high - low + 1
            progress(done)


def _pair_orphans_sql() -> str:
    return f"""
        CREATE TEMP TABLE longs AS SELECT *, row_number() OVER (
            PARTITION BY kind, b_channel_id ORDER BY b_line_no, key) AS n
        FROM found WHERE outcome = 'long' AND b_channel_id <> '';
        CREATE TEMP TABLE shorts AS SELECT *, row_number() OVER (
            PARTITION BY kind, g_channel_id ORDER BY key) AS n
        FROM found WHERE outcome = 'short' AND g_channel_id <> '';
        CREATE TEMP TABLE paired AS SELECT s.kind, s.key, s.g_channel_id AS channel_id,
            lg.key AS long_key, lg.n
        FROM shorts s JOIN longs lg
            ON lg.kind = s.kind AND lg.b_channel_id = s.g_channel_id AND lg.n = s.n;
        CREATE TEMP TABLE repaired AS SELECT * REPLACE ({COMPARE} AS outcome) FROM (
            SELECT s.outcome, s.kind, s.key, 0 AS dup_rank,
                {", ".join(f"lg.b_{c}" for c in ITEM_COLUMNS["bill"])},
                {", ".join(f"s.g_{c}" for c in ITEM_COLUMNS["ours"])},
                {", ".join(f"s.l_{c}" for c in ITEM_COLUMNS["ledger"])}
            FROM paired p
            JOIN shorts s ON s.kind = p.kind AND s.key = p.key
            JOIN longs lg ON lg.kind = p.kind AND lg.key = p.long_key
                AND lg.b_channel_id = p.channel_id AND lg.n = p.n);
        CREATE TEMP TABLE final AS
        SELECT * FROM found f WHERE NOT (
            (f.outcome = 'short' AND EXISTS (
                SELECT 1 FROM paired p WHERE p.kind = f.kind AND p.key = f.key))
            OR (f.outcome = 'long' AND EXISTS (
                SELECT 1 FROM paired p WHERE p.kind = f.kind AND p.long_key = f.key
                AND p.channel_id = f.b_channel_id)))
        UNION ALL BY NAME SELECT * FROM repaired;
    """


def finish(folder: Path, window: CarryWindow) -> tuple[list[Finding], dict[Outcome, int]]:
    """Pairs leftover long and short items by channel id, carries what is missing near the
    cut; the findings that are not plain matches (and flagged payments'), and every count."""
    db = connect(folder, 2, 512)
    results = sorted((folder / RESULTS).glob("range-*.parquet"))
    matched = sum(json.loads(p.with_suffix(".done").read_text())["matched"] for p in results)
    db.execute(
        f"CREATE TEMP TABLE found AS SELECT * FROM read_parquet({[str(p) for p in results]})"
    )
    db.execute(_pair_orphans_sql())
    low = min(window.bill_cut, window.our_cut) - window.seconds
    high = max(window.bill_cut, window.our_cut) + window.seconds
    rows = db.execute(f"""
        SELECT * REPLACE (CASE WHEN (outcome IN ('long', 'short') OR (outcome = 'ledger_mismatch'
                AND (l_key IS NULL OR (b_key IS NULL AND g_key IS NULL))))
            AND NOT (coalesce(g_carried, false) OR coalesce(b_carried, false)
                OR coalesce(l_carried, false))
            AND coalesce(g_moment, b_moment, l_moment) BETWEEN {low} AND {high}
            THEN 'carried' ELSE outcome END AS outcome)
        FROM final ORDER BY kind, key, dup_rank
    """)
    names = [d[0] for d in rows.description]
    findings = [_finding(dict(zip(names, row, strict=True))) for row in rows.fetchall()]
    db.close()
    counts: dict[Outcome, int] = {Outcome.MATCHED: matched} if matched else {}
    for finding in findings:
        counts[finding.outcome] = counts.get(finding.outcome, 0) + 1
    return [f for f in findings if f.outcome is not Outcome.MATCHED or _flagged(f)], counts


def _flagged(finding: Finding) -> bool:
    return finding.ours is not None and finding.ours.flagged


def _item(row: dict[str, Any], prefix: str, columns: dict[str, str]) -> dict[str, Any] | None:
    if row[f"{prefix}_key"] is None:
        return None
    values = {
        c: "" if row[f"{prefix}_{c}"] is None and kind == "VARCHAR" else row[f"{prefix}_{c}"]
        for c, kind in columns.items()
    }
    values["kind"] = Kind(values["kind"])
    return values


def _finding(row: dict[str, Any]) -> Finding:
    bill = _item(row, "b", ITEM_COLUMNS["bill"])
    ours = _item(row, "g", ITEM_COLUMNS["ours"])
    ledger = _item(row, "l", ITEM_COLUMNS["ledger"])
    if ours is not None:
        ours.pop("succeeded")
    return Finding(
        outcome=Outcome(row["outcome"]),
        kind=Kind(row["kind"]),
        key=row["key"],
        bill=BillItem(**bill) if bill else None,
        ours=OurItem(**ours) if ours else None,
        ledger=LedgerItem(**ledger) if ledger else None,
        duplicate_rank=row["dup_rank"],
    )


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> int:
    """One of a run's input files (None is written empty: NULL); the number of rows."""
    count = 0
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _item_row(item: BillItem | OurItem | LedgerItem, columns: dict[str, str]) -> list[Any]:
    values = {c: getattr(item, c) for c in columns}
    values["kind"] = item.kind.value
    return list(values.values())


def write_carried(
    folder: Path,
    bills: Iterable[BillItem],
    ours: Iterable[OurItem],
    ledger: Iterable[LedgerItem],
) -> None:
    """The items a run takes in from earlier dates, in the staged items' own columns."""
    for source, items in (("bill", bills), ("ours", ours), ("ledger", ledger)):
        columns = ITEM_COLUMNS[source]
        write_csv(folder / CARRIED[source], columns, (_item_row(i, columns) for i in items))
