"""Transfers from the platform's own account into its reserve (备付金) account at this bank: the
platform's own funds moved in to pay what it owes of its own (the coupons it paid merchants
for), each under the end-to-end id the platform gives it, booked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FUNDING_RECORD = "reserve_funding"


@dataclass(frozen=True)
class Funding:
    """A credit transfer into the reserve account from the platform's own account."""

    reference: str  # the platform's end-to-end id
    currency: str
    amount: int
    bank_ref: str
    booked_at: float
    payer: str

    def to_record(self) -> dict[str, Any]:
        return {
            "record": FUNDING_RECORD,
            "reference": self.reference,
            "currency": self.currency,
            "amount": self.amount,
            "bank_ref": self.bank_ref,
            "booked_at": self.booked_at,
            "payer": self.payer,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Funding:
        return cls(
            reference=str(record["reference"]),
            currency=str(record["currency"]),
            amount=int(record["amount"]),
            bank_ref=str(record["bank_ref"]),
            booked_at=float(record["booked_at"]),
            payer=str(record["payer"]),
        )

    def view(self) -> dict[str, Any]:
        record = self.to_record()
        return {k: record[k] for k in ("reference", "currency", "amount", "bank_ref")}
