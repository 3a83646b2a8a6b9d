"""The recon unit of work: one transaction with the recon repository bound to it.

The composition root makes them (bootstrap), over the engine it owns.
"""

from __future__ import annotations

from collections.abc import Callable

from paysuite.runtime.database import SqlUnitOfWork
from recon.adapters.repository import ReconRepository

UnitOfWork = SqlUnitOfWork[ReconRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]
