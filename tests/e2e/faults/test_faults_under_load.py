"""Faults under load: a steady stream of card and wallet payments (about 30 a second) while
each service is SIGKILLed and restarted, the suite's own Postgres restarted, an egress route
killed, and every wallet notification sent ten times. After each: every payment final or
handed to reconciliation, captured once in the ledger iff the channel took the money, the
outbox drained, the ledger's trial balance holding, the payer's limits holding exactly the
captured payments, and every request answered with the one payment kept for it."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import pytest

from devstack.egress import dev_routes
from devstack.free_ports import free_ports
from devstack.postgres import embedded_url
from devstack.stack import DEFAULT_PORTS, Stack, StackConfig
from paysuite.runtime.dsn import plain_postgres_url
from tests.e2e.faults.checks import ledger_violations, limit_violations
from tests.e2e.faults.load import SteadyLoad, answer_violations
from tests.e2e.own_suite import own_suite
from tests.e2e.soak.channel_books import read_channel_books
from tests.e2e.soak.faults import QUIET, WALLET_QUIET, faults_restored
from tests.e2e.soak.invariants import violations
from tests.e2e.soak.merchant import Merchant
from tests.e2e.soak.orders import OrderBook
from tests.e2e.soak.simulators import ALIPAY, WALLETS, WECHAT, Simulators
from tests.e2e.soak.waiting import settle

if TYPE_CHECKING:
    from devstack.pki import DevCA

_log = logging.getLogger(__name__)

RATE = 30.0  # payments a second: the machine is shared
BEFORE_SECONDS = 5.0  # load before the fault
AFTER_SECONDS = 6.0  # and after it
STORM_COPIES = 10
# Wallet buyers who take a moment to pay: the outcome comes by notification.
WALLET_NOTIFYING = MappingProxyType(
    {**WALLET_QUIET, "accepted_rate": 0.5, "decide_ms": 300, "notify_copies": STORM_COPIES}
)


@dataclass
class Faulted:
    """The suite under test, its own Postgres's data directory and the simulators' dials."""

    stack: Stack
    postgres: Path
    simulators: Simulators


@pytest.fixture(scope="module")
async def faulted(
    tmp_path_factory: pytest.TempPathFactory, test_ca: DevCA
) -> AsyncIterator[Faulted]:
    """Ledger, identity, gateway and recon on a Postgres of the module's own (so it may be
    restarted), the gateway reaching the channels through the dev egress proxies."""
    # Outside pytest's temporary directories, which other sessions on the machine prune.
    home = Path(tempfile.mkdtemp(prefix="paysuite-faults-pg-"))
    home.chmod(0o755)  # the server runs as a user of its own
    postgres = home / "data"
    admin = embedded_url(postgres)
    ports = free_ports([*DEFAULT_PORTS, *(f"proxy-{i}" for i in range(8))])

    def configure(database_url: str) -> StackConfig:
        return StackConfig(
            database_url=database_url,
            data_dir=tmp_path_factory.mktemp("faults"),
            ports={port: ports[port] for port in DEFAULT_PORTS},
            egress_routes=dev_routes([ports[f"proxy-{i}"] for i in range(8)]),
            extra_env={"GATEWAY_CHANNELS__BANKSIM__CONFIRM_BY_QUERY": "true"},
            pki_dir=test_ca.directory,
        )

    async def with_recon(suite: Stack) -> None:
        await suite.migrate(("recon",))
        await suite.start(services=("recon",), simulator=False)

    try:
        async with (
            own_suite(admin, configure, then=with_recon) as suite,
            aiohttp.ClientSession() as http,
        ):
            yield Faulted(suite, postgres, Simulators(http, suite))
    finally:
        await _pg_ctl("stop_embedded", postgres)
        shutil.rmtree(home, ignore_errors=True)


async def _kill_and_restart(suite: Faulted, service: str) -> None:
    suite.stack.kill(service)
    await suite.stack.restart(service)


async def _pg_ctl(action: str, data_dir: Path) -> None:
    """Stops or restarts the embedded server from a fresh interpreter: pg_ctl as the server's
    user, forked from this one (gRPC loaded, threads running), can crash before it runs."""
    script = f"import sys, pathlib, devstack.postgres as p; p.{action}(pathlib.Path(sys.argv[1]))"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(data_dir))
    assert await process.wait() == 0, f"{action} of the module's Postgres failed"


async def _restart_postgres(suite: Faulted) -> None:
    await _pg_ctl("restart_embedded", suite.postgres)


async def _kill_a_route(suite: Faulted) -> None:
    """The bank's fast route dies; the gateway goes on over the other one until it is back."""
    [route] = [r for r in suite.stack.config.egress_routes if r.route_id == "banksim-east"]
    suite.stack.kill(route.process)
    await asyncio.sleep(AFTER_SECONDS / 2)
    await suite.stack.restart_route(route)


async def _notification_storm(suite: Faulted) -> None:
    """From now every wallet notification is sent ten times at once (dialled back to one
    before the checks, by faults_restored)."""
    for wallet in WALLETS:
        await suite.simulators.dial(wallet, WALLET_NOTIFYING)


Fault = Callable[[Faulted], Awaitable[None]]


def _killing(service: str) -> Fault:
    return lambda suite: _kill_and_restart(suite, service)


FAULTS: dict[str, Fault] = {
    **{f"{s} killed": _killing(s) for s in ("gateway", "ledger", "identity", "recon")},
    "postgres restarted": _restart_postgres,
    "egress route killed": _kill_a_route,
    "notification storm": _notification_storm,
}


async def _stormed(suite: Faulted, payment_ids: set[str]) -> int:
    """How many of the payments' notifications a wallet sent ten times."""
    sent: Counter[tuple[str, str]] = Counter()
    for wallet in (ALIPAY, WECHAT):
        for delivery in await suite.simulators.admin(wallet, "GET", "/_admin/notifications"):
            if delivery["out_trade_no"] in payment_ids:
                sent[wallet, delivery["notify_id"]] += 1
    return len([n for n in sent.values() if n >= STORM_COPIES])


def _flagged_out(found: list[str], flagged: set[str]) -> list[str]:
    """Leaves out what is said of payments handed to reconciliation: theirs to settle."""
    return [line for line in found if not any(pid in line for pid in flagged)]


@pytest.mark.slow  # about a minute a fault: load, the fault, settling, the checks
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_payments_under_load_survive(faulted: Faulted, fault: str) -> None:
    stack = faulted.stack
    pool = await asyncpg.create_pool(
        plain_postgres_url(stack.config.database_url), min_size=1, max_size=4
    )
    merchant = Merchant(stack, pool)
    load = SteadyLoad(merchant.gateway, OrderBook(), RATE)
    stop = asyncio.Event()
    try:
        async with faults_restored(faulted.simulators):
            await faulted.simulators.dial_all(QUIET)
            running = asyncio.create_task(load.run(stop))
            await asyncio.sleep(BEFORE_SECONDS)
            await FAULTS[fault](faulted)
            await asyncio.sleep(AFTER_SECONDS)
            stop.set()
            await running
        books = await settle(merchant, load.orders)
        channels = await read_channel_books(faulted.simulators)
        found = await ledger_violations(pool) + await limit_violations(pool, books)
        stormed = await _stormed(faulted, set(books.payments))
    finally:
        await merchant.close()
        await pool.close()

    flagged = {pid for pid, p in books.payments.items() if p["needs_reconciliation"]}
    stored = {p["request_id"]: pid for pid, p in books.payments.items()}
    found += _flagged_out(violations(books, channels), flagged)
    found += answer_violations(load.answers, stored)
    states = Counter(p["state"] for p in books.payments.values())
    summary = (
        f"{fault}: {len(load.orders)} orders, {dict(states)}, {len(flagged)} handed to "
        f"reconciliation, errors on the way {dict(load.answers.errors)}"
    )
    _log.info("faults under load: %s", summary)
    assert not found, f"{len(found)} violations ({summary}):\n" + "\n".join(found[:60])
    paid_on = {p["channel"] for p in books.payments.values() if p["state"] == "succeeded"}
    assert paid_on == {"banksim", "alipaysim", "wechatsim"}, summary
    if fault == "notification storm":
        assert stormed, "no notification was sent ten times"
