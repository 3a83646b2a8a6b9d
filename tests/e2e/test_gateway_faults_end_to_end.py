"""Payments under dialled channel faults and a gateway crash: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import aiohttp
import asyncpg

from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.runtime.dsn import plain_postgres_url
from tests.e2e.soak.books import Books
from tests.e2e.soak.channel_books import read_channel_books
from tests.e2e.soak.crash import crash_with_charges_in_flight
from tests.e2e.soak.faults import QUIET, STORM, faults_restored
from tests.e2e.soak.invariants import client_violations, violations
from tests.e2e.soak.merchant import Merchant, pay_all
from tests.e2e.soak.orders import OrderBook
from tests.e2e.soak.probes import run_probes
from tests.e2e.soak.refunds import ask_refunds
from tests.e2e.soak.simulators import Simulators
from tests.e2e.soak.waiting import settle

_log = logging.getLogger(__name__)


def _summary(books: Books, merchant: Merchant, started: float) -> str:
    states = Counter(p["state"] for p in books.payments.values())
    reasons = Counter(p["failure_reason"] for p in books.payments.values() if p["failure_reason"])
    refunds = Counter(r["state"] for r in books.refunds.values())
    return (
        f"{len(books.payments)} payments {dict(states)}; failures {dict(reasons)}; "
        f"refunds {dict(refunds)}; {len(merchant.calls.cut)} calls cut by the crash; "
        f"closes {dict(merchant.calls.closes)}; {time.monotonic() - started:.0f} s"
    )


async def test_faults_and_a_gateway_crash_lose_nothing_and_double_nothing(stack: Stack) -> None:
    """Deterministic probes, then card and wallet payments, retries, duplicate business orders,
    closes and refunds under faults on every channel, with the gateway SIGKILLed mid-charge;
    once settled, every payment agrees with the ledger and with the channel. Failures name
    payment ids, states and amounts, never payer data."""
    started = time.monotonic()
    pool = await asyncpg.create_pool(
        plain_postgres_url(stack.config.database_url), min_size=1, max_size=4
    )
    http = aiohttp.ClientSession()
    simulators = Simulators(http, stack)
    merchant = Merchant(stack, pool)
    book = OrderBook()
    try:
        async with faults_restored(simulators):
            probes = await run_probes(merchant, book, simulators)

            await simulators.dial_all(STORM)
            first_wave = book.storm("storm-1", 30)
            doomed, _ = await asyncio.gather(
                crash_with_charges_in_flight(merchant, book, simulators, stack),
                pay_all(merchant, first_wave, 12),
            )

            paid = [
                a[-1]
                for a in merchant.calls.answers.values()
                if a
                and a[-1].state == gpb.Payment.STATE_SUCCEEDED
                and a[-1].payment_id not in probes.expected
            ]
            await asyncio.gather(
                pay_all(merchant, book.storm("storm-2", 21), 12), ask_refunds(merchant, paid)
            )
            # Asked again once answered: the same payment comes back.
            for order in first_wave[:3]:
                await merchant.pay(order)
            await simulators.dial_all(QUIET)
            books = await settle(merchant, book.orders)
            channels = await read_channel_books(simulators)
    finally:
        if stack.processes["gateway"].returncode is not None:
            await stack.restart("gateway")
        await merchant.close()
        await http.close()
        await pool.close()

    summary = _summary(books, merchant, started)
    _log.info("soak: %s", summary)
    found = violations(books, channels) + client_violations(merchant.calls, books)
    assert not found, f"{len(found)} violations ({summary}):\n" + "\n".join(found[:100])
    # The deterministic parts happened as dialled.
    for pid, state in probes.expected.items():
        assert books.payments[pid]["state"] == state, (pid, books.payments[pid]["state"], state)
    assert books.payments[probes.false_success]["failure_reason"] == "SUCCESS_NOT_CONFIRMED"
    doomed_ids = {o.request.request_id for o in doomed}
    assert doomed_ids <= merchant.calls.cut, "the crash should have cut the in-flight charges"
    in_flight = [p for p in books.payments.values() if p["request_id"] in doomed_ids]
    assert sorted(p["state"] for p in in_flight) == ["failed", "succeeded", "succeeded"], [
        (p["payment_id"], p["state"]) for p in in_flight
    ]
