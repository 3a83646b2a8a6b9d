"""Running a reconciliation with fakes: the statement parser is whatever the root injects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from paysuite.money import Money
from paysuite.runtime.database import UnitOfWork
from recon.adapters.banksim_statement import parse
from recon.domain.model import (
    MatchResult,
    OurRecord,
    Outcome,
    ReconciliationRun,
    StatementLine,
)
from recon.service_layer.handlers import RunReconciliation, StatementInvalid, run_reconciliation

DAY = date(2026, 11, 21)
AMOUNT = Money("CNY", 1234)


class _Repo:
    def __init__(self) -> None:
        self.runs: dict[str, ReconciliationRun] = {}
        self.differences: list[MatchResult] = []

    async def by_request_id(self, request_id: str) -> ReconciliationRun | None:
        return self.runs.get(request_id)

    async def add_run(self, run: ReconciliationRun) -> bool:
        self.runs[run.request_id] = run
        return True

    async def add_differences(self, run_id: str, results: list[MatchResult]) -> None:
        self.differences += [r for r in results if r.outcome is not Outcome.MATCHED]


class _Work(UnitOfWork[_Repo]):
    """The unit-of-work contract over a repository in memory (nothing to roll back)."""

    def __init__(self, repo: _Repo) -> None:
        super().__init__(lambda _: repo)

    async def _open(self) -> None:
        return None

    async def _close(self) -> None:
        return None

    async def commit(self) -> None:
        self._finish()

    async def rollback(self) -> None:
        return None


class _Gateway:
    def __init__(self, statement: bytes, records: list[OurRecord]) -> None:
        self._statement, self._records = statement, records

    async def records(self, channel: str, day: date) -> list[OurRecord]:
        return self._records

    async def statement(self, channel: str, day: date) -> bytes:
        return self._statement


async def _run(repo: _Repo, gateway: _Gateway, parser: Any) -> ReconciliationRun:
    return await run_reconciliation(
        cast(Any, lambda: _Work(repo)),
        gateway,
        parser,
        RunReconciliation("r-1", "banksim", DAY),
        lambda: datetime(2026, 11, 22, tzinfo=UTC),
    )


async def test_the_injected_parser_reads_the_statement() -> None:
    repo = _Repo()
    lines = [
        StatementLine("pay-1", "T-1", AMOUNT, True),
        StatementLine("pay-2", "T-2", AMOUNT, True),
    ]
    gateway = _Gateway(b"read by the fake parser", [OurRecord("pay-1", AMOUNT, True)])

    run = await _run(repo, gateway, lambda content: lines)

    assert (run.statement_rows, run.our_records) == (2, 1)
    assert run.counts == {Outcome.MATCHED: 1, Outcome.LONG: 1}
    assert [(d.payment_id, d.outcome) for d in repo.differences] == [("pay-2", Outcome.LONG)]


async def test_an_unreadable_statement_is_the_services_own_error() -> None:
    repo = _Repo()
    with pytest.raises(StatementInvalid):
        await _run(repo, _Gateway(b"no trailer,at all\n", []), parse)
    assert repo.runs == {}
