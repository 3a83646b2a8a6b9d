"""Runs the suite as real processes: migrate, start, wait for SERVING, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.egress import ProxyRoute, write_routes_file
from devstack.pki import DevCA
from paysuite.dev_secrets import DEV_ALIPAY_SECRET, DEV_BANK_SECRET, DEV_WECHAT_SECRET
from paysuite.runtime.identities import Identity

SERVICES = ("ledger", "identity", "gateway", "recon")
DEFAULT_PORTS = {
    "gateway": 50051,
    "ledger": 50052,
    "identity": 50053,
    "recon": 50054,
    "banksim": 8601,
    "alipaysim": 8602,
    "wechatsim": 8603,
    "gateway_notify": 50061,  # the gateway's HTTP listener for channel notifications
}
# The variable that carries each port, read by the processes and by `make run`.
PORT_VARIABLES = {
    "gateway": "GATEWAY_PORT",
    "ledger": "LEDGER_PORT",
    "identity": "IDENTITY_PORT",
    "recon": "RECON_PORT",
    "banksim": "CHANNELSIM_PORT",
    "alipaysim": "ALIPAYSIM_PORT",
    "wechatsim": "WECHATSIM_PORT",
    "gateway_notify": "GATEWAY_NOTIFY_PORT",
}
# Simulated channels: name -> module; the wallets are one module in two flavours.
SIMULATORS = {"banksim": "channelsim", "alipaysim": "walletsim", "wechatsim": "walletsim"}
# The gateway's channel on each: its kind (GATEWAY_CHANNELS__<NAME>__KIND) and dev secret.
CHANNELS = {
    "banksim": ("bank", DEV_BANK_SECRET),
    "alipaysim": ("alipay", DEV_ALIPAY_SECRET),
    "wechatsim": ("wechat", DEV_WECHAT_SECRET),
}


def ports_from_environment(environ: Mapping[str, str]) -> dict[str, int]:
    """The ports a launcher should use: defaults, moved by any `*_PORT` variable set."""
    return {
        name: int(environ.get(PORT_VARIABLES[name], default))
        for name, default in DEFAULT_PORTS.items()
    }


@dataclass
class StackConfig:
    database_url: str
    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)
    # Egress proxies started with the simulators, one per route (none: the gateway goes direct).
    egress_routes: list[ProxyRoute] = field(default_factory=list)
    # The dev CA's directory; unset: PAYSUITE_PKI_DIR if set (a test session's CA), else
    # <data_dir>/pki.
    pki_dir: Path | None = None

    def __post_init__(self) -> None:
        # Ports not given keep their defaults (a partial stack starts only what it needs).
        self.ports = {**DEFAULT_PORTS, **self.ports}
        if self.pki_dir is None:
            from_environment = os.environ.get("PAYSUITE_PKI_DIR")
            self.pki_dir = Path(from_environment) if from_environment else self.data_dir / "pki"

    @property
    def egress_routes_file(self) -> Path:
        return self.data_dir / "egress-routes.json"

    @property
    def traces_file(self) -> Path:
        return self.data_dir / "traces.jsonl"

    def addr(self, service: str) -> str:
        return f"localhost:{self.ports[service]}"

    @property
    def bank_url(self) -> str:
        return self.simulator_url("banksim")

    def simulator_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


class StackError(RuntimeError):
    """A process of the suite did not start or stop as it should."""


class Stack:
    """The four services and the channel simulators, each in its own process."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        assert config.pki_dir is not None
        self.ca = DevCA(config.pki_dir)
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._logs: list[object] = []

    def env(self) -> dict[str, str]:
        ports = self.config.ports
        env = {
            **os.environ,
            "PAYSUITE_ENV": "dev",
            "DATABASE_URL": self.config.database_url,
            "PAYSUITE_TRACES_FILE": str(self.config.traces_file),
            "PAYSUITE_PKI_DIR": str(self.ca.directory),
            **{variable: str(ports[name]) for name, variable in PORT_VARIABLES.items()},
            "LEDGER_ADDR": self.config.addr("ledger"),
            "IDENTITY_ADDR": self.config.addr("identity"),
            "GATEWAY_ADDR": self.config.addr("gateway"),
            "CHANNELSIM_SECRET": DEV_BANK_SECRET,
            "CHANNELSIM_STATE_FILE": str(self.config.data_dir / "banksim-state.jsonl"),
            **self._channel_env(),
            "PYTHONUNBUFFERED": "1",
        }
        if self.config.egress_routes:
            env["GATEWAY_EGRESS_ROUTES_FILE"] = str(self.config.egress_routes_file)
        env.update(self.config.extra_env)
        return env

    def _channel_env(self) -> dict[str, str]:
        """The gateway's channels: one simulator each, by GATEWAY_CHANNELS__<NAME>__<FIELD>."""
        env = {}
        for name, (kind, secret) in CHANNELS.items():
            prefix = f"GATEWAY_CHANNELS__{name.upper()}__"
            env[prefix + "KIND"] = kind
            env[prefix + "URL"] = self.config.simulator_url(name)
            env[prefix + "SECRET"] = secret
        return env

    async def _run_once(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise StackError(f"{' '.join(args)} failed:\n{output.decode()[-4000:]}")

    async def migrate(self, services: tuple[str, ...] = SERVICES) -> None:
        for service in services:
            await self._run_once("-m", service, "migrate")

    def simulator_env(self, name: str) -> dict[str, str]:
        """What one simulator process needs beyond the shared environment."""
        if SIMULATORS[name] != "walletsim":
            return {}
        # A wallet simulator's flavour is named as the kind of channel it stands in for.
        flavour, secret = CHANNELS[name]
        return {
            "WALLETSIM_FLAVOUR": flavour,
            "WALLETSIM_PORT": str(self.config.ports[name]),
            "WALLETSIM_SECRET": secret,
            # Each day's takings are paid into the reserve account at the bank.
            "WALLETSIM_BANK_URL": self.config.bank_url,
        }

    async def _spawn(self, name: str, module: str, env: dict[str, str] | None = None) -> None:
        log_dir = self.config.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        # A session of its own: Ctrl-C reaches the launcher, which stops children in order.
        self.processes[name] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            env={**self.env(), **(env or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    async def start(
        self, timeout: float = 60.0, services: tuple[str, ...] = SERVICES, simulator: bool = True
    ) -> None:
        """Starts the simulators (optional) and the given services, then waits for SERVING."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.ca.ensure_suite()
        if simulator:
            for name, module in SIMULATORS.items():
                await self._spawn(name, module, self.simulator_env(name))
            for route in self.config.egress_routes:
                await self._spawn(route.process, "egressproxy", route.env())
            if self.config.egress_routes:
                write_routes_file(self.config.egress_routes_file, self.config.egress_routes)
        for service in services:
            await self._spawn(service, service)
        try:
            await asyncio.wait_for(self._wait_ready(services, simulator), timeout)
        except TimeoutError as exc:
            await self.stop()
            raise StackError(
                f"suite not ready within {timeout}s; logs in {self.config.data_dir / 'logs'}"
            ) from exc

    async def _wait_ready(self, services: tuple[str, ...], simulator: bool) -> None:
        if simulator:
            for name in SIMULATORS:
                await self._wait_http(name, f"{self.config.simulator_url(name)}/healthz")
            for route in self.config.egress_routes:
                await self._wait_http(route.process, f"http://127.0.0.1:{route.admin_port}/healthz")
        for service in services:
            await self._wait_serving(service)

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to finish anything (crash tests)."""
        self.processes[name].kill()

    async def restart(self, name: str, timeout: float = 60.0) -> None:
        """Starts a killed or stopped service again and waits until it is SERVING."""
        await self.processes[name].wait()
        await self._spawn(name, name)
        await asyncio.wait_for(self._wait_serving(name), timeout)

    async def restart_route(self, route: ProxyRoute, timeout: float = 60.0) -> None:
        """Starts a killed egress proxy again and waits until it answers."""
        await self.processes[route.process].wait()
        await self._spawn(route.process, "egressproxy", route.env())
        healthz = f"http://127.0.0.1:{route.admin_port}/healthz"
        await asyncio.wait_for(self._wait_http(route.process, healthz), timeout)

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.returncode is not None:
            log = self.config.data_dir / "logs" / f"{name}.log"
            raise StackError(f"{name} exited with {process.returncode}; see {log}")

    async def _wait_http(self, name: str, url: str) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                self._check_alive(name)
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)

    def channel(
        self,
        service: str,
        identity: str = "operator",
        options: list[tuple[str, Any]] | None = None,
    ) -> grpc.aio.Channel:
        """A channel to one of the suite's services over mutual TLS, calling as the identity
        named as its certificate files are: operator, merchant-M100001, gateway, ..."""
        caller = Identity.from_file_stem(identity)
        return self.ca.channel(self.config.addr(service), caller, options)

    async def _wait_serving(self, service: str) -> None:
        async with self.channel(service) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                self._check_alive(service)
                with contextlib.suppress(grpc.aio.AioRpcError):
                    answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                await asyncio.sleep(0.2)

    async def stop(self, timeout: float = 20.0) -> dict[str, int | None]:
        """SIGTERM to every process, in reverse start order; returns their exit codes."""
        codes: dict[str, int | None] = {}
        for process in reversed(list(self.processes.values())):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                codes[name] = await process.wait()
        for log in self._logs:
            log.close()  # type: ignore[attr-defined]
        self._logs.clear()
        return codes

    async def start_replica(
        self,
        name: str,
        service: str,
        ports: Mapping[str, int],
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Starts another process of a service (e.g. "gateway-2", against the same database) on
        ports of its own, named as in DEFAULT_PORTS ("gateway", "gateway_notify"), and waits
        until it is SERVING; stop() stops it with the rest."""
        self.config.ports[name] = ports[service]
        variables = {PORT_VARIABLES[port_name]: str(port) for port_name, port in ports.items()}
        await self._spawn(name, service, {**variables, **(env or {})})
        await asyncio.wait_for(self._wait_serving(name), timeout)
