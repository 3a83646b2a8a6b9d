"""Pending transfers whose timeout has passed release their holds by themselves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from ledger.domain.commands import VoidPending
from ledger.domain.model import TransferResult
from ledger.service_layer.transfers import execute
from ledger.service_layer.unit_of_work import LedgerUnits

_log = logging.getLogger(__name__)


def expiry_id(pending_transfer_id: str) -> str:
    """The void transfer an expiry writes; the same id from every replica, so it runs once."""
    return f"{pending_transfer_id}:expired"


async def expire_due(units: LedgerUnits, clock: Callable[[], datetime], limit: int = 500) -> int:
    async with units.postings() as work:
        due = await work.repo.expired_pending(clock(), limit)
    if not due:
        return 0
    outcomes = await execute(
        units.posting_batch, [VoidPending(expiry_id(p), p, expired=True) for p in due], clock
    )
    return sum(1 for o in outcomes if o.result is TransferResult.POSTED)


async def run_expiry(
    units: LedgerUnits, clock: Callable[[], datetime], every_seconds: float = 1.0
) -> None:
    while True:
        try:
            expired = await expire_due(units, clock)
        except Exception:
            _log.exception("expiring pending transfers failed")
            expired = 0
        if expired:
            _log.info("pending transfers expired", extra={"count": expired})
        else:
            await asyncio.sleep(every_seconds)
