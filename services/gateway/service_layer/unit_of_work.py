"""How the gateway's use cases reach its stores: a unit of work (one transaction), or a
session whose every statement commits by itself."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from gateway.adapters.store.stores import Stores
from paysuite.runtime.database import UnitOfWork as BaseUnitOfWork

UnitOfWork = BaseUnitOfWork[Stores]
UnitOfWorkFactory = Callable[[], UnitOfWork]
SessionFactory = Callable[[], AbstractAsyncContextManager[Stores]]
