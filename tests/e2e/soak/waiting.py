"""Waiting on the running suite: until a condition holds, or until nothing moves any more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tests.e2e.soak.books import Books, read_books, still_moving
from tests.e2e.soak.merchant import Merchant
from tests.e2e.soak.orders import Order

# After the faults are off: long enough for a charge the channel never received to be
# declared failed (the gateway believes "no such order" only a minute after the charge) and
# for unanswered refunds to be sent again, with a wide margin.
SETTLE_SECONDS = 150.0


async def wait_for(
    what: str,
    predicate: Callable[[], Awaitable[bool]],
    seconds: float = 20.0,
    last_seen: Callable[[], str] | None = None,
) -> None:
    """Polls until the predicate holds; a timeout says what `last_seen` last saw, if given."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (
            f"; last seen: {last_seen()}" if last_seen is not None else ""
        )
        await asyncio.sleep(0.1)


async def settle(merchant: Merchant, orders: list[Order]) -> Books:
    """Waits until nothing moves; asks the channel about UNKNOWN payments to speed it up.

    PROCESSING payments are left to the gateway: once every call has returned, only its own
    recovery can resolve them."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        books = await read_books(merchant.pool, orders)
        if not still_moving(books) or time.monotonic() > deadline:
            break
        unknown = [pid for pid, p in books.payments.items() if p["state"] == "unknown"]
        await asyncio.gather(*(merchant.query(pid) for pid in unknown))
        await asyncio.sleep(1.0)
    # Late notifications and resent copies arrive; none may change a final state.
    await asyncio.sleep(2.0)
    return await read_books(merchant.pool, orders)
