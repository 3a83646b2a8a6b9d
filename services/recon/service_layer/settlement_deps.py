"""What settlement's use cases need: its unit of work, the gateway's records and payouts, the
ledger, the business calendar and the channels it clears."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from paysuite.runtime import database
from recon.adapters.settlement_repository import SettlementRepository
from recon.domain.settlement import GatewayPayout, SettlementPayout, SettlementSettings
from recon.domain.settlement_calendar import BusinessCalendar
from recon.domain.settlement_postings import SettlementTransfer
from recon.domain.settlement_tally import ClearingRecord

SettlementUnitOfWork = database.UnitOfWork[SettlementRepository]


class Records(Protocol):
    def records(self, channel: str, day: date) -> AsyncIterator[list[ClearingRecord]]: ...


class Books(Protocol):
    async def open_accounts(self, merchants: Sequence[tuple[str, str]]) -> None: ...

    async def post(self, transfers: Sequence[SettlementTransfer]) -> None: ...


class Payouts(Protocol):
    async def pay(
        self, payout: SettlementPayout, settings: SettlementSettings
    ) -> GatewayPayout: ...

    async def get(self, payout_id: str) -> GatewayPayout: ...

    async def returned(self) -> list[GatewayPayout]: ...


@dataclass(frozen=True)
class SettlementDeps:
    uow: Callable[[], SettlementUnitOfWork]
    records: Records
    books: Books
    payouts: Payouts
    calendar: BusinessCalendar
    # Channels cleared; those whose book is the ledger itself need no reconciliation run.
    channels: tuple[str, ...]
    unreconciled: frozenset[str]
    clock: Callable[[], datetime]
    zone: ZoneInfo

    def today(self) -> date:
        return self.clock().astimezone(self.zone).date()
