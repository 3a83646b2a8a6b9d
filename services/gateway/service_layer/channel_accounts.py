"""The ledger accounts each configured channel needs before its first capture is posted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from gateway.domain.ports import LedgerPort

_log = logging.getLogger(__name__)

CURRENCY = "CNY"


async def open_channel_accounts(
    ledger: LedgerPort,
    channels: Collection[str],
    payout_channels: Collection[str] = (),
    retry_seconds: float = 1.0,
) -> None:
    """Opens every channel's receivable account, and the payouts account of each that pays
    out, retrying until the ledger answers; postings wait in the outbox meanwhile."""
    delay = retry_seconds
    while True:
        try:
            await ledger.open_receivables(channels, CURRENCY)
            await ledger.open_payout_accounts(payout_channels, CURRENCY)
        except Exception as exc:  # the ledger may still be starting
            _log.warning("channel accounts not opened yet", extra={"error": type(exc).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        _log.info("channel accounts open", extra={"channels": sorted(channels)})
        return
