"""Every gateway store on one connection, and the units of work and sessions that bind them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from gateway.adapters.store.events import EventStore
from gateway.adapters.store.merchants import MerchantStore
from gateway.adapters.store.outbox import OutboxStore
from gateway.adapters.store.payments import PaymentStore
from gateway.adapters.store.payouts import PayoutStore
from gateway.adapters.store.refunds import RefundStore
from gateway.adapters.store.verifications import VerificationStore
from paysuite.runtime.database import PoolSession, PoolUnitOfWork


class Stores:
    """The gateway's aggregates, each with its store, sharing one connection."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.payments = PaymentStore(connection)
        self.payouts = PayoutStore(connection)
        self.refunds = RefundStore(connection)
        self.outbox = OutboxStore(connection)
        self.events = EventStore(connection)
        self.merchants = MerchantStore(connection)
        self.verifications = VerificationStore(connection)


def unit_of_work_factory(pool: Any) -> Callable[[], PoolUnitOfWork[Stores]]:
    return lambda: PoolUnitOfWork(pool, Stores)


def session_factory(pool: Any) -> Callable[[], PoolSession[Stores]]:
    return lambda: PoolSession(pool, Stores)
