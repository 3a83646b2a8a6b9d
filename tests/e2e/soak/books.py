"""Our books for the run's orders: payments, refunds, undelivered outbox rows, ledger transfers."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from devstack import demo
from tests.e2e.soak.orders import Order
from tests.e2e.soak.states import TERMINAL

MERCHANT_PAYABLE = f"merchant.{demo.MERCHANT_ID}.payable.CNY"
FEE_INCOME = "platform.fee_income.CNY"


@dataclass
class Books:
    payments: dict[str, Any]
    refunds: dict[str, Any]
    undelivered: list[Any]
    transfers: dict[str, Any]
    # transfer id -> (account, side) -> amount, on the merchant's payable and the fee income
    entries: dict[str, Counter[tuple[str, str]]]


async def read_books(pool: Any, orders: list[Order]) -> Books:
    """Every payment made for the orders' request ids or business order numbers, and so on."""
    payments = await pool.fetch(
        "SELECT payment_id, request_id, merchant_order_no, amount, channel, state, "
        "failure_reason, needs_reconciliation, refunded, next_query_at, "
        "query_attempts, merchant_fee "
        "FROM gateway.payments WHERE request_id = ANY($1::text[]) "
        "OR (merchant_id = $2 AND merchant_order_no = ANY($3::text[]))",
        [o.request.request_id for o in orders],
        demo.MERCHANT_ID,
        [o.request.merchant_order_no for o in orders],
    )
    payment_ids = [p["payment_id"] for p in payments]
    refunds = await pool.fetch(
        "SELECT refund_id, request_id, payment_id, amount, state "
        "FROM gateway.refunds WHERE payment_id = ANY($1::text[])",
        payment_ids,
    )
    ids = payment_ids + [r["refund_id"] for r in refunds]
    undelivered = await pool.fetch(
        "SELECT idempotency_key, kind, attempts, last_error FROM gateway.outbox "
        "WHERE split_part(idempotency_key, ':', 1) = ANY($1::text[])",
        ids,
    )
    transfers = await pool.fetch(
        "SELECT transfer_id, state, metadata->>'payment_id' AS payment_id FROM ledger.transfers "
        "WHERE split_part(transfer_id, ':', 1) = ANY($1::text[]) "
        "OR metadata->>'payment_id' = ANY($2::text[])",
        ids,
        payment_ids,
    )
    rows = await pool.fetch(
        "SELECT transfer_id, account_id, side, amount FROM ledger.entries "
        "WHERE account_id = ANY($1::text[]) AND transfer_id = ANY($2::text[])",
        [MERCHANT_PAYABLE, FEE_INCOME],
        [t["transfer_id"] for t in transfers],
    )
    entries: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for row in rows:
        entries[row["transfer_id"]][(row["account_id"], row["side"])] += row["amount"]
    return Books(
        payments={p["payment_id"]: p for p in payments},
        refunds={r["refund_id"]: r for r in refunds},
        undelivered=list(undelivered),
        transfers={t["transfer_id"]: t for t in transfers},
        entries=entries,
    )


def still_moving(books: Books) -> bool:
    """A payment or refund still waits for a final answer, or an outbox row for delivery."""
    return (
        any(
            p["state"] not in TERMINAL and not p["needs_reconciliation"]
            for p in books.payments.values()
        )
        or any(r["state"] == "processing" for r in books.refunds.values())
        or bool(books.undelivered)
    )
