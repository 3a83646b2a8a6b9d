"""The background job that follows settlement payouts: open ones until the bank answers,
paid ones for returns (退票)."""

from __future__ import annotations

import asyncio
import logging

from paysuite.errors import DomainError
from recon.service_layer.settlement_deps import SettlementDeps
from recon.service_layer.settlement_payouts import follow_payouts

_log = logging.getLogger(__name__)


async def follow_forever(deps: SettlementDeps, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await follow_payouts(deps)
        except DomainError as error:  # the gateway unreachable for now: next time
            _log.warning("settlement payouts not followed", extra={"reason": error.reason})
        except Exception:  # the job outlives any one round's failure
            _log.exception("settlement payouts not followed")
