"""Closing an accounting date: trial balance, checks, and the differences parked in suspense."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime

from ledger.domain.model import AccountType

ROW_VS_BOOKS = "ACCOUNT_TOTALS_VS_ENTRIES"
GL_VS_SUBLEDGER = "GL_VS_SUBLEDGER"


@dataclass(frozen=True, slots=True)
class TypeTotals:
    """One account type in one currency on one date; balances debit-positive."""

    type: AccountType
    currency: str
    opening: int
    debit_turnover: int
    credit_turnover: int
    closing: int


@dataclass(frozen=True, slots=True)
class Difference:
    """What a check found: amount is debit-positive, what the record shows minus the books."""

    check: str
    currency: str
    amount: int
    account_id: str = ""
    type: AccountType | None = None

    @property
    def adjustment_id(self) -> str:
        """The id of the transfer that parks it, the same on every re-run of the day-end."""
        subject = self.account_id or (self.type.value if self.type else "")
        return f"dayend:{self.check}:{subject}:{self.currency}"


@dataclass(frozen=True, slots=True)
class DayEndReport:
    accounting_date: date
    accounts: int
    entries: int
    trial_balance: tuple[TypeTotals, ...]
    differences: tuple[Difference, ...]
    completed_at: datetime

    @property
    def balanced(self) -> bool:
        """Total debits equal total credits, and balances net to zero, in every currency."""
        debits: dict[str, int] = defaultdict(int)
        credits: dict[str, int] = defaultdict(int)
        closing: dict[str, int] = defaultdict(int)
        for row in self.trial_balance:
            debits[row.currency] += row.debit_turnover
            credits[row.currency] += row.credit_turnover
            closing[row.currency] += row.closing
        return all(debits[c] == credits[c] and closing[c] == 0 for c in debits)

    def adjustment_id(self, difference: Difference) -> str:
        return f"{difference.adjustment_id}:{self.accounting_date.isoformat()}"

    def to_json(self) -> str:
        body = asdict(self)
        body["accounting_date"] = self.accounting_date.isoformat()
        body["completed_at"] = self.completed_at.isoformat()
        for row in body["trial_balance"]:
            row["type"] = row["type"].value
        for diff in body["differences"]:
            diff["type"] = diff["type"].value if diff["type"] else None
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DayEndReport:
        body = json.loads(text)
        return cls(
            accounting_date=date.fromisoformat(body["accounting_date"]),
            accounts=body["accounts"],
            entries=body["entries"],
            trial_balance=tuple(
                TypeTotals(**{**row, "type": AccountType(row["type"])})
                for row in body["trial_balance"]
            ),
            differences=tuple(
                Difference(**{**d, "type": AccountType(d["type"]) if d["type"] else None})
                for d in body["differences"]
            ),
            completed_at=datetime.fromisoformat(body["completed_at"]),
        )


def gl_differences(
    gl: dict[tuple[AccountType, str], tuple[int, int]],
    subledger: dict[tuple[AccountType, str], tuple[int, int]],
) -> list[Difference]:
    """Vouchers (general ledger) against account entries (sub-ledger), per type and currency."""
    found = []
    for key in sorted(set(gl) | set(subledger), key=lambda k: (k[0].value, k[1])):
        gl_debit, gl_credit = gl.get(key, (0, 0))
        sub_debit, sub_credit = subledger.get(key, (0, 0))
        amount = (sub_debit - sub_credit) - (gl_debit - gl_credit)
        if amount or gl_debit != sub_debit:
            found.append(Difference(GL_VS_SUBLEDGER, key[1], amount, type=key[0]))
    return found
