"""Merchant onboarding, minimal for now: a merchant id the gateway will accept payments for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.service_layer.unit_of_work import UnitOfWorkFactory


async def register_merchant(
    uow: UnitOfWorkFactory, merchant_id: str, name: str, clock: Callable[[], datetime]
) -> None:
    """Registers the merchant as active unless it exists."""
    async with uow() as work:
        await work.repo.upsert_merchant(merchant_id, name, clock())
        await work.commit()


async def set_callback(
    uow: UnitOfWorkFactory, merchant_id: str, url: str, secret: str, clock: Callable[[], datetime]
) -> None:
    """Sets where the merchant's signed event callbacks go, starting with its next event."""
    async with uow() as work:
        await work.repo.set_callback(merchant_id, url, secret, clock())
        await work.commit()
