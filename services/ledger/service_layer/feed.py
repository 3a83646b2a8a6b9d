"""The entry feed: every entry once, in transaction order, resumable from a position.

An entry is emitted only when every transaction that started before its own has finished,
so a consumer that resumes after a position can never miss an entry that commits later.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ledger.domain.records import EntryRecord
from ledger.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import FieldViolation, InvalidArgument

_POSITION = re.compile(r"^(\d{1,20})-(\d{1,20})$")


@dataclass(frozen=True, slots=True)
class Position:
    txid: int = 0
    entry_id: int = 0

    def token(self) -> str:
        return f"{self.txid}-{self.entry_id}"

    @classmethod
    def parse(cls, token: str) -> Position:
        if not token:
            return cls()
        match = _POSITION.match(token)
        if match is None:
            raise InvalidArgument([FieldViolation("after_position", "not a position token")])
        return cls(int(match.group(1)), int(match.group(2)))


async def watch(
    uow: UnitOfWorkFactory,
    after: Position,
    account_id: str,
    poll_seconds: float = 0.2,
    page: int = 500,
) -> AsyncIterator[tuple[Position, EntryRecord]]:
    position = after
    async with uow() as work:
        rows_of = await work.repo.sub_accounts_of(account_id) if account_id else []
    while True:
        async with uow() as work:
            rows = await work.repo.feed(position.txid, position.entry_id, rows_of, page)
        for txid, entry in rows:
            position = Position(txid, entry.entry_id)
            yield position, entry
        if len(rows) < page:
            await asyncio.sleep(poll_seconds)
