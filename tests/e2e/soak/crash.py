"""The gateway SIGKILLed while channels hold charges it awaits answers for, then restarted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from devstack.stack import Stack
from tests.e2e.soak.channel_books import channel_view, read_channel_books
from tests.e2e.soak.faults import BANK_QUIET, BANK_STORM, LATE_ANSWER_MS, WALLET_QUIET, WALLET_STORM
from tests.e2e.soak.merchant import Merchant
from tests.e2e.soak.orders import Order, OrderBook
from tests.e2e.soak.simulators import BANK, WECHAT, Simulators
from tests.e2e.soak.waiting import wait_for


async def _answers(merchant: Merchant, count: int) -> None:
    while sum(len(a) for a in merchant.calls.answers.values()) < count:
        await asyncio.sleep(0.05)


def _described(row: Mapping[str, str]) -> str:
    reason = row["failure_reason"]
    return f"{row['channel']} {row['state']}" + (f" ({reason})" if reason else "")


async def crash_with_charges_in_flight(
    merchant: Merchant, book: OrderBook, simulators: Simulators, stack: Stack
) -> list[Order]:
    """Kills the gateway while the bank has taken two charges (and WeChat refused one) whose
    answers it awaits, then starts it again; returns those three orders."""
    with contextlib.suppress(TimeoutError):  # storm payments under way, or enough waiting
        await asyncio.wait_for(_answers(merchant, 15), 10)
    # From now every bank and WeChat charge is answered after the gateway's timeout.
    await simulators.dial(
        BANK, {**BANK_QUIET, "timeout_rate": 1, "timeout_sleep_ms": LATE_ANSWER_MS}
    )
    await simulators.dial(
        WECHAT,
        {**WALLET_QUIET, "timeout_rate": 1, "decline_rate": 1, "timeout_sleep_ms": LATE_ANSWER_MS},
    )
    doomed = [
        book.order(BANK, "in-flight"),
        book.order(BANK, "in-flight"),
        book.order(WECHAT, "in-flight"),
    ]
    calls = [asyncio.create_task(merchant.pay(order)) for order in doomed]
    # What the last look found of each doomed payment, for a timeout to say (ids and states
    # only, no payer data).
    seen: dict[str, str] = {}

    async def taken() -> bool:
        """The channel holds each charge while the gateway still waits for its answer."""
        rows = await merchant.pool.fetch(
            "SELECT payment_id, channel, state, failure_reason FROM gateway.payments "
            "WHERE request_id = ANY($1::text[])",
            [o.request.request_id for o in doomed],
        )
        seen.clear()
        seen.update((r["payment_id"], _described(r)) for r in rows)
        if len(rows) < len(doomed) or any(r["state"] != "processing" for r in rows):
            return False
        books = await read_channel_books(simulators, refunds=False)
        views = {
            r["payment_id"]: channel_view(books, r["channel"], r["payment_id"])[0] for r in rows
        }
        seen.update((pid, f"{seen[pid]}, at the channel {view}") for pid, view in views.items())
        return all(view != "unknown_to_channel" for view in views.values())

    def last_seen() -> str:
        return f"{len(seen)} of {len(doomed)} recorded: {seen}"

    await wait_for("charges in flight", taken, seconds=8.0, last_seen=last_seen)
    merchant.killing = True
    stack.kill("gateway")
    await simulators.dial(BANK, BANK_STORM)
    await simulators.dial(WECHAT, WALLET_STORM)
    await stack.restart("gateway")
    merchant.restarted.set()
    await asyncio.gather(*calls)
    return doomed
