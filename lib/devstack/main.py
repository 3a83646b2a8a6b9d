"""`paysuite-dev run`: the whole suite on an embedded or given Postgres, until Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from devstack import demo, seed
from devstack.egress import dev_routes
from devstack.postgres import DEFAULT_DATA_DIR, server_url, stop_embedded
from devstack.provision import provision
from devstack.stack import Stack, StackConfig, ports_from_environment
from paysuite.runtime import event_loop

DATABASE = "paysuite"


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


async def run() -> None:
    data_dir = DEFAULT_DATA_DIR.parent
    _say("paysuite: starting Postgres and provisioning schemas ...")
    embedded = not os.environ.get("DATABASE_URL")
    database_url = await provision(server_url(), DATABASE)
    stack = Stack(
        StackConfig(
            database_url=database_url,
            data_dir=data_dir,
            ports=ports_from_environment(os.environ),
            egress_routes=dev_routes(),
        )
    )
    _say("paysuite: migrating ...")
    await stack.migrate()
    _say("paysuite: starting services ...")
    await stack.start()
    try:
        await seed.seed_ledger(stack.config.addr("ledger"), ca=stack.ca)
        await seed.seed_merchant(stack.config.addr("gateway"), ca=stack.ca)
        await seed.seed_user(stack.config.addr("identity"), stack.config.bank_url, ca=stack.ca)
        await seed.seed_settlement(stack.config.addr("recon"), ca=stack.ca)
        ports = stack.config.ports
        _say(
            "paysuite: SERVING  gateway :{gateway} (notify http :{gateway_notify})  "
            "ledger :{ledger}  identity :{identity}  recon :{recon}  banksim http :{banksim}  "
            "alipaysim http :{alipaysim}  wechatsim http :{wechatsim}".format(**ports)
        )
        _say(
            f"paysuite: demo merchant {demo.MERCHANT_ID}, user {demo.USER_ID}; try\n"
            f"  .venv/bin/payctl --as merchant-{demo.MERCHANT_ID} pay --merchant {demo.MERCHANT_ID}"
            f" --user {demo.USER_ID} "
            "--amount 12.34 --currency CNY"
        )
        _say(
            f"paysuite: mutual TLS on every gRPC port; CA and certificates in {stack.ca.directory}"
            " (payctl acts as the operator; --as merchant-M100001 as the demo merchant)"
        )
        routes = ", ".join(
            f"{r.route_id} :{r.port} (+{r.latency_ms} ms)" for r in stack.config.egress_routes
        )
        _say(f"paysuite: egress routes {routes}; see `payctl routes`")
        _say(
            f"paysuite: logs in {data_dir / 'logs'}, traces in {stack.config.traces_file}; "
            "Ctrl-C stops everything"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        _say("paysuite: stopping ...")
        codes = await stack.stop()
        if embedded:
            stop_embedded()
        _say(f"paysuite: stopped {codes}")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command != "run":
        raise SystemExit("usage: paysuite-dev run")
    event_loop.run(run())
