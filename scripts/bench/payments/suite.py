"""The suite under load: `make run`'s launcher on a fresh database and free ports, seeded with
the benchmark's merchant."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from devstack import seed
from devstack.egress import dev_routes
from devstack.free_ports import free_ports
from devstack.pki import DevCA
from devstack.provision import provision
from devstack.stack import DEFAULT_PORTS, SIMULATORS, Stack, StackConfig

MERCHANT_ID = "MBENCH01"
# Wallet payments in the benchmark all take the asynchronous road: the wallet answers
# "buyer paying" and decides at once, then notifies the gateway.
ASYNC_WALLET_FAULTS = {"accepted_rate": 1.0, "decide_ms": 0}
# `make run`'s egress routes: a proxy and an admin port each.
EGRESS_PORTS = 2 * len(dev_routes())


@dataclass
class SuiteUnderTest:
    database_url: str
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    stack: Stack | None = None
    # The gateway reaches the channels through `make run`'s egress proxies (the soak does);
    # off: directly, as the benchmark does.
    egress: bool = False
    # Gateway processes on the one database: gateway, gateway-2, ...
    gateways: int = 1

    async def start(self) -> None:
        proxies = [f"egress-{i}" for i in range(EGRESS_PORTS if self.egress else 0)]
        found = free_ports([*DEFAULT_PORTS, *proxies])
        self.stack = Stack(
            StackConfig(
                database_url=self.database_url,
                data_dir=self.data_dir,
                ports={name: found[name] for name in DEFAULT_PORTS},
                extra_env=self.extra_env,
                egress_routes=dev_routes([found[name] for name in proxies]) if proxies else [],
                # The CA the load's channels use too (PAYSUITE_PKI_DIR, else .data/pki).
                pki_dir=DevCA.from_environment().directory,
            )
        )
        await self.stack.migrate()
        await self.stack.start()
        for number in range(2, self.gateways + 1):
            ports = free_ports(["gateway", "gateway_notify"])
            await self.stack.start_replica(f"gateway-{number}", "gateway", ports)
        await self._seed()

    async def _seed(self) -> None:
        stack = self.running
        await seed.seed_ledger(stack.config.addr("ledger"), MERCHANT_ID)
        await seed.seed_merchant(stack.config.addr("gateway"), MERCHANT_ID)

    @property
    def running(self) -> Stack:
        if self.stack is None:
            raise RuntimeError("the suite is not started")
        return self.stack

    def addr(self, name: str) -> str:
        return self.running.config.addr(name)

    @property
    def gateway_addrs(self) -> tuple[str, ...]:
        """Every gateway process's address, the first the stack's own."""
        names = ["gateway", *(f"gateway-{n}" for n in range(2, self.gateways + 1))]
        return tuple(self.addr(name) for name in names)

    @property
    def bank_url(self) -> str:
        return self.running.config.bank_url

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.running.processes.items()}

    def check_alive(self) -> None:
        for name, process in self.running.processes.items():
            if process.returncode is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} during the run")

    async def make_wallets_asynchronous(self) -> None:
        async with aiohttp.ClientSession() as http:
            for name in (n for n, module in SIMULATORS.items() if module == "walletsim"):
                url = f"{self.running.config.simulator_url(name)}/_admin/faults"
                async with http.post(url, json=ASYNC_WALLET_FAULTS) as response:
                    response.raise_for_status()

    async def stop(self) -> dict[str, int | None]:
        return await self.running.stop() if self.stack is not None else {}


async def fresh_suite(admin_url: str, name: str, data_dir: Path) -> SuiteUnderTest:
    database_url = await provision(admin_url, name)
    return SuiteUnderTest(database_url, data_dir)
