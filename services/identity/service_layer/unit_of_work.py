"""The identity unit of work: one transaction with the identity repository bound to it.

The composition root makes them (bootstrap), over the engine it owns.
"""

from __future__ import annotations

from collections.abc import Callable

from identity.adapters.repository import IdentityRepository
from paysuite.runtime.database import SqlUnitOfWork

UnitOfWork = SqlUnitOfWork[IdentityRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]
