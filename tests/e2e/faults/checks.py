"""What must hold after each fault, besides the soak's checks of every payment against the
ledger and the channel: the ledger's trial balance, and the payer's limits."""

from __future__ import annotations

from typing import Any

from tests.e2e.soak.books import Books
from tests.e2e.soak.states import CAPTURED


async def ledger_violations(pool: Any) -> list[str]:
    """Debits equal credits, in the entries and in the accounts' totals, in each currency, and
    no account is past the side it may not exceed."""
    found = []
    entries = await pool.fetch(
        "SELECT currency, sum(amount) FILTER (WHERE side = 'D') AS debits, "
        "sum(amount) FILTER (WHERE side = 'C') AS credits FROM ledger.entries GROUP BY currency"
    )
    totals = await pool.fetch(
        "SELECT currency, sum(debits_posted) AS debits, sum(credits_posted) AS credits "
        "FROM ledger.accounts GROUP BY currency"
    )
    for where, rows in (("entries", entries), ("accounts", totals)):
        for row in rows:
            if row["debits"] != row["credits"]:
                found.append(
                    f"trial balance of the {where} off in {row['currency']}: "
                    f"debits {row['debits']}, credits {row['credits']}"
                )
    overdrawn = await pool.fetch(
        "SELECT account_id, debits_posted, credits_posted FROM ledger.accounts "
        "WHERE (debits_must_not_exceed_credits AND debits_posted > credits_posted) "
        "OR (credits_must_not_exceed_debits AND credits_posted > debits_posted)"
    )
    found += [
        f"account {r['account_id']} past its limit: D {r['debits_posted']} C {r['credits_posted']}"
        for r in overdrawn
    ]
    return found


async def limit_violations(pool: Any, books: Books) -> list[str]:
    """The payer's limit holds each captured payment's amount, committed, and gave back every
    other's (a payment handed to reconciliation may still hold its reservation)."""
    usages = {
        row["payment_id"]: row
        for row in await pool.fetch(
            "SELECT payment_id, amount, state FROM identity.limit_usages "
            "WHERE payment_id = ANY($1::text[])",
            list(books.payments),
        )
    }
    found = []
    for pid, payment in sorted(books.payments.items()):
        usage = usages.get(pid)
        state = usage["state"] if usage is not None else "none"
        held = usage["amount"] if usage is not None else 0
        if payment["state"] in CAPTURED:
            if state != "committed" or held != payment["amount"]:
                found.append(f"{pid} captured ({payment['amount']} fen) but its limit is {state}")
        elif state not in ("released", "none") and not (
            payment["needs_reconciliation"] and state == "reserved"
        ):
            found.append(f"{pid} {payment['state']} but its limit is {state}")
    return found
