"""Merchant onboarding: the merchants the gateway takes payments for, their terms and state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.domain.errors import MerchantNotFound
from gateway.domain.merchants import Merchant, MerchantExists, MerchantTerms, TermsChange
from gateway.service_layer.unit_of_work import SessionFactory, UnitOfWorkFactory


def _not_found(merchant_id: str) -> MerchantNotFound:
    return MerchantNotFound("merchant not found", metadata={"merchant_id": merchant_id})


async def register_merchant(
    uow: UnitOfWorkFactory, merchant_id: str, terms: MerchantTerms, clock: Callable[[], datetime]
) -> Merchant:
    """Registers the merchant. The same registration again returns the merchant as it is (a
    retry); another one for a registered id is MerchantExists."""
    merchant = Merchant.register(merchant_id, terms, clock())
    async with uow() as work:
        if await work.repo.merchants.add(merchant):
            await work.commit()
            return merchant
        registered = await work.repo.merchants.get(merchant_id)
    if registered is None or registered.terms != terms:
        raise MerchantExists(
            "a merchant with this id is registered with other terms",
            metadata={"merchant_id": merchant_id},
        )
    return registered


async def get_merchant(session: SessionFactory, merchant_id: str) -> Merchant:
    async with session() as stores:
        merchant = await stores.merchants.get(merchant_id)
    if merchant is None:
        raise _not_found(merchant_id)
    return merchant


async def update_merchant(
    uow: UnitOfWorkFactory, merchant_id: str, change: TermsChange, clock: Callable[[], datetime]
) -> Merchant:
    """Applies the change; payments already created keep the fee rate they were created at."""
    async with uow() as work:
        merchant = await work.repo.merchants.get(merchant_id, lock=True)
        if merchant is None:
            raise _not_found(merchant_id)
        changed = merchant.changed(change, clock())
        if changed is not merchant:
            await work.repo.merchants.update(changed)
            await work.commit()
    return changed


async def set_callback(
    uow: UnitOfWorkFactory, merchant_id: str, url: str, secret: str, clock: Callable[[], datetime]
) -> None:
    """Sets where the merchant's signed event callbacks go, starting with its next event."""
    async with uow() as work:
        await work.repo.events.set_callback(merchant_id, url, secret, clock())
        await work.commit()
