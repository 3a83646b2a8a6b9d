"""How the ledger's store refuses a unit of work, in the ledger's own terms.

The adapters translate the database driver's errors into these; a refused unit wrote nothing.
"""

from __future__ import annotations


class StoreRefused(Exception):
    """The database refused the unit of work, which was rolled back whole."""


class WriteConflict(StoreRefused):
    """The unit lost a race with a concurrent one: a key it inserted was taken meanwhile, or
    Postgres broke a deadlock by aborting it. Run again, it sees what the other one wrote."""
