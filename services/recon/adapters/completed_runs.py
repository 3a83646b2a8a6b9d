"""Whether a channel's date has a completed reconciliation run: asked by clearing and by reserve
reconciliation before they rely on the date's reconciliation."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from recon.adapters.tables import runs
from recon.domain.model import RunState


async def run_completed(
    conn: AsyncConnection, channel: str, day: date, import_id: str | None = None
) -> bool:
    """Whether a run of the channel's date completed (on that import, when one is named)."""
    query = (
        select(func.count())
        .select_from(runs)
        .where(
            runs.c.channel == channel,
            runs.c.statement_date == day,
            runs.c.state == RunState.COMPLETED.value,
        )
    )
    if import_id is not None:
        query = query.where(runs.c.import_id == import_id)
    return bool(await conn.scalar(query))
