"""A suite of a test's own (beside the shared one): its database, processes and seed, and the
card payment request the end-to-end tests send."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from devstack import demo, seed
from devstack.provision import drop_database, provision
from devstack.stack import Stack, StackConfig
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.type.v1.money_pb2 import Money

SERVICES = ("ledger", "identity", "gateway")


@asynccontextmanager
async def own_suite(
    admin_url: str,
    configure: Callable[[str], StackConfig],
    *,
    then: Callable[[Stack], Awaitable[None]] | None = None,
) -> AsyncIterator[Stack]:
    """Ledger, identity and gateway (and the simulators) on a fresh database, as configure
    (given the database's URL) says; `then` before the seed (more processes, say); seeded as
    `make run` seeds; stopped by SIGTERM, which must exit 0, and the database dropped."""
    name = f"paysuite_own_{secrets.token_hex(4)}"
    suite = Stack(configure(await provision(admin_url, name)))
    try:
        await suite.migrate(SERVICES)
        await suite.start(services=SERVICES)
        if then is not None:
            await then(suite)
        await seed.seed_ledger(suite.config.addr("ledger"), ca=suite.ca)
        await seed.seed_merchant(suite.config.addr("gateway"), ca=suite.ca)
        await seed.seed_user(suite.config.addr("identity"), suite.config.bank_url, ca=suite.ca)
        yield suite
    finally:
        codes = await suite.stop()
        await drop_database(admin_url, name)
    assert codes == dict.fromkeys(codes, 0), f"unclean exit: {codes}"


def card_payment(
    label: str, minor_units: int, merchant_id: str = demo.MERCHANT_ID
) -> gpb.CreatePaymentRequest:
    """A card payment of the demo payer to the merchant, with fresh request and order ids."""
    return gpb.CreatePaymentRequest(
        request_id=f"{label}-{secrets.token_hex(8)}",
        merchant_id=merchant_id,
        merchant_order_no=f"{label.upper()}-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=minor_units),
        method=gpb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id=demo.USER_ID,
    )
