"""Merchant onboarding: a merchant id the gateway accepts payments for, and its fee rate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.domain.fees import BPS_PER_UNIT
from gateway.service_layer.unit_of_work import UnitOfWorkFactory


async def register_merchant(
    uow: UnitOfWorkFactory,
    merchant_id: str,
    name: str,
    clock: Callable[[], datetime],
    fee_bps: int = 0,
) -> None:
    """Registers the merchant as active, or updates its name and fee rate (basis points of
    each captured payment the platform keeps)."""
    if not 0 <= fee_bps <= BPS_PER_UNIT:
        raise ValueError("a fee rate is 0 to 10000 basis points")
    async with uow() as work:
        await work.repo.merchants.upsert(merchant_id, name, fee_bps, clock())
        await work.commit()


async def set_callback(
    uow: UnitOfWorkFactory, merchant_id: str, url: str, secret: str, clock: Callable[[], datetime]
) -> None:
    """Sets where the merchant's signed event callbacks go, starting with its next event."""
    async with uow() as work:
        await work.repo.events.set_callback(merchant_id, url, secret, clock())
        await work.commit()
