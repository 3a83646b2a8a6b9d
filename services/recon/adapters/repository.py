"""Reads and writes reconciliation runs and their differences."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from recon.adapters.tables import differences, runs
from recon.domain.model import MatchResult, Outcome, ReconciliationRun, RunState


def _run(row: Any) -> ReconciliationRun:
    return ReconciliationRun(
        run_id=row.run_id,
        request_id=row.request_id,
        channel=row.channel,
        statement_date=row.statement_date,
        state=RunState(row.state),
        statement_rows=row.statement_rows,
        our_records=row.our_records,
        counts={Outcome(k): v for k, v in row.counts.items()},
        created_at=row.created_at,
    )


class ReconRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def by_request_id(self, request_id: str) -> ReconciliationRun | None:
        row = (
            await self._conn.execute(select(runs).where(runs.c.request_id == request_id))
        ).first()
        return _run(row) if row else None

    async def add_run(self, run: ReconciliationRun) -> bool:
        statement = (
            insert(runs)
            .values(
                run_id=run.run_id,
                request_id=run.request_id,
                channel=run.channel,
                statement_date=run.statement_date,
                state=run.state.value,
                statement_rows=run.statement_rows,
                our_records=run.our_records,
                counts={k.value: v for k, v in run.counts.items()},
                created_at=run.created_at,
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(runs.c.run_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def add_differences(self, run_id: str, results: list[MatchResult]) -> None:
        rows = [
            {
                "run_id": run_id,
                "payment_id": r.payment_id,
                "outcome": r.outcome.value,
                "currency": r.currency,
                "statement_amount": r.statement_amount.minor_units if r.statement_amount else None,
                "our_amount": r.our_amount.minor_units if r.our_amount else None,
            }
            for r in results
            if r.outcome is not Outcome.MATCHED
        ]
        if rows:
            await self._conn.execute(insert(differences), rows)
