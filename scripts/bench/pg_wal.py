"""What Postgres wrote between two moments: WAL records, full-page images, bytes, checkpoints.

Read from pg_stat_wal and the checkpointer's counters (pg_stat_checkpointer from PostgreSQL 17,
pg_stat_bgwriter before), server-wide: run it on a server doing nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class WalSnapshot:
    records: int
    full_page_images: int
    bytes: int
    checkpoints: int


async def wal_snapshot(connection: Any) -> WalSnapshot:
    row = await connection.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
    try:
        checkpoints = await connection.fetchval(
            "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
        )
    except asyncpg.UndefinedTableError:
        checkpoints = await connection.fetchval(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        )
    return WalSnapshot(
        int(row["wal_records"]), int(row["wal_fpi"]), int(row["wal_bytes"]), int(checkpoints)
    )


def wal_written(before: WalSnapshot, after: WalSnapshot) -> dict[str, float]:
    """What was written between the snapshots, by counter."""
    return {
        "records": after.records - before.records,
        "full_page_images": after.full_page_images - before.full_page_images,
        "bytes": after.bytes - before.bytes,
        "checkpoints": after.checkpoints - before.checkpoints,
    }
