"""The identity unit of work: one transaction with the identity repository bound to it.

The use cases hold to the contract in paysuite.runtime.database; the composition root
(bootstrap) makes the units, over the engine it owns.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from identity.adapters.limit_store import LimitStore
from identity.adapters.repository import IdentityRepository
from paysuite.runtime import database

UnitOfWork = database.UnitOfWork[IdentityRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]

LimitUnitFactory = Callable[[], database.UnitOfWork[LimitStore]]
# A limit store on a pooled connection outside a transaction: each statement commits by itself.
LimitSessionFactory = Callable[[], AbstractAsyncContextManager[LimitStore]]
