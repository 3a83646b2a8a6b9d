"""The recon unit of work: one transaction with the recon repository bound to it.

The use cases hold to the contract in paysuite.runtime.database; the composition root
(bootstrap) makes the units, over the engine it owns.
"""

from __future__ import annotations

from collections.abc import Callable

from paysuite.runtime import database
from recon.adapters.repository import ReconRepository
from recon.adapters.statement_repository import StatementRepository

UnitOfWork = database.UnitOfWork[ReconRepository]
UnitOfWorkFactory = Callable[[], UnitOfWork]
# Imported statement files have a repository of their own.
StatementUnitOfWorkFactory = Callable[[], database.UnitOfWork[StatementRepository]]
