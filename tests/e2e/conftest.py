"""The whole suite as real processes on free ports, on its own fresh database."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devstack import seed
from devstack.provision import drop_database, provision
from devstack.stack import DEFAULT_PORTS, Stack, StackConfig


def free_ports(names: list[str]) -> dict[str, int]:
    sockets = []
    for _ in names:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = {name: sock.getsockname()[1] for name, sock in zip(names, sockets, strict=True)}
    for sock in sockets:
        sock.close()
    return ports


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that cut the ledger's day ahead of the clock run after those that reconcile
    today's payments on the same suite: from then on its postings fall on tomorrow's date."""
    items.sort(key=lambda item: item.get_closest_marker("moves_business_date") is not None)


async def _seed(suite: Stack) -> None:
    """Seeds as `make run` does, through the services' APIs."""
    await seed.seed_ledger(suite.config.addr("ledger"), ca=suite.ca)
    await seed.seed_merchant(suite.config.addr("gateway"), ca=suite.ca)
    await seed.seed_user(suite.config.addr("identity"), suite.config.bank_url, ca=suite.ca)
    await seed.seed_settlement(suite.config.addr("recon"), ca=suite.ca)


@pytest.fixture(scope="session")
async def stack(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Migrated, started, SERVING and seeded; stopped by SIGTERM, which must exit 0."""
    name = f"paysuite_e2e_{secrets.token_hex(4)}"
    database_url = await provision(admin_url, name)
    data_dir: Path = tmp_path_factory.mktemp("e2e")
    metrics_ports = free_ports(["gateway", "ledger", "identity", "recon"])
    config = StackConfig(
        database_url=database_url,
        data_dir=data_dir,
        ports=free_ports(list(DEFAULT_PORTS)),
        extra_env={
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            # The soak dials the bank's false successes: its successes are confirmed by query,
            # as a deployment sets it for a channel seen doing that.
            "GATEWAY_CHANNELS__BANKSIM__CONFIRM_BY_QUERY": "true",
            # Each service's Prometheus endpoint, scraped by the metrics tests.
            **{f"{name.upper()}_METRICS_PORT": str(port) for name, port in metrics_ports.items()},
        },
    )
    suite = Stack(config)
    await suite.migrate()
    await suite.start()
    try:
        await _seed(suite)
        yield suite
    finally:
        codes = await suite.stop()
        await drop_database(admin_url, name)
    assert codes == dict.fromkeys(codes, 0), f"unclean exit: {codes}"
