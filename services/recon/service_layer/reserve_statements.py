"""The reserve account's statement of a date, fetched through the gateway and imported when recon
has none for the date, or only one imported before the day was over (the day so far)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from recon.domain.statements import StatementFormat
from recon.service_layer import imports
from recon.service_layer.imports import ReaderFactory
from recon.service_layer.unit_of_work import StatementUnitOfWorkFactory

_log = logging.getLogger(__name__)

BANK_ZONE = ZoneInfo("Asia/Shanghai")  # the bank's booking dates are its calendar days


class AccountStatements(Protocol):
    """The reserve account's statements (recon.adapters.account_statements)."""

    def statement(self, day: date) -> AsyncIterator[bytes]: ...


def day_over(day: date) -> datetime:
    """When the bank's booking date ends."""
    return datetime.combine(day + timedelta(days=1), time(), BANK_ZONE)


@dataclass(frozen=True, slots=True)
class ReserveStatementFetch:
    """Imports the date's statement under statement_channel unless a whole day's is imported."""

    statements: StatementUnitOfWorkFactory
    source: AccountStatements
    open_reader: ReaderFactory
    new_spool: Callable[[], imports.Spool]
    clock: Callable[[], datetime]
    statement_channel: str

    async def __call__(self, day: date) -> None:
        async with self.statements() as work:
            current = await work.repo.current_import(self.statement_channel, day)
        if current is not None and current.created_at >= day_over(day):
            return
        command = imports.ImportStatement(self.statement_channel, StatementFormat.CAMT053, day)
        imported = await imports.import_fetched(
            self.statements,
            self.open_reader,
            self.new_spool,
            command,
            self.source.statement(day),
            self.clock,
        )
        _log.info(
            "reserve account statement fetched",
            extra={
                "statement_date": day.isoformat(),
                "import_id": imported.import_id,
                "lines": imported.summary.rows,
            },
        )
