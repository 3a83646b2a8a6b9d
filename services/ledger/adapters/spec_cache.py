"""Account specs kept across transactions: rows are decoded once, not once per batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.adapters import codec
from ledger.domain.model import Account, AccountSpec


class SpecCache:
    """Specs by account id; a spec never changes once created, so only its row's creation
    time is checked (an account dropped and created again gets a new one)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._specs: dict[str, tuple[datetime, AccountSpec]] = {}

    def account(self, row: Any) -> Account:
        """The account of a row, its spec from the cache when the row is the one seen before."""
        known = self._specs.get(row["account_id"])
        if known is not None and known[0] == row["created_at"]:
            return codec.account(row, known[1])
        if len(self._specs) >= self._capacity:
            self._specs.clear()
        spec = codec.account_spec(row)
        self._specs[spec.account_id] = (row["created_at"], spec)
        return codec.account(row, spec)
