"""Runs the ledger as a real process: migrate, serve on a free port, wait for SERVING, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.pki import DevCA, dev_channel


class LedgerStartError(RuntimeError):
    """The ledger did not migrate or did not become SERVING."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LedgerProcess:
    """`python -m ledger` with the dev environment the suite's launcher gives it."""

    def __init__(
        self,
        database_url: str,
        work_dir: Path,
        extra_env: dict[str, str],
        service: str = "ledger",
    ) -> None:
        self.service = service
        self._ca = DevCA.from_environment()
        self._ca.ensure_suite()
        self.port = free_port()
        self.address = f"localhost:{self.port}"
        self.log_path = work_dir / f"{service}.log"
        self._env = {
            **os.environ,
            "PAYSUITE_ENV": "dev",
            "DATABASE_URL": database_url,
            f"{service.upper()}_PORT": str(self.port),
            "PAYSUITE_TRACES_FILE": str(work_dir / "traces.jsonl"),
            "PYTHONUNBUFFERED": "1",
            # Mutual TLS with the dev CA, as `make run` has it (created here if missing).
            "PAYSUITE_PKI_DIR": str(self._ca.directory),
            **extra_env,
        }
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    async def migrate(self) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.service,
            "migrate",
            env=self._env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            tail = output.decode(errors="replace")[-3000:]
            raise LedgerStartError(
                f"python -m {self.service} migrate exited {process.returncode}:\n{tail}"
            )

    async def start(self, timeout: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.service,
            env=self._env,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(self._wait_serving(), timeout)
        except TimeoutError as exc:
            await self.stop()
            raise LedgerStartError(
                f"{self.service} not SERVING within {timeout:.0f}s; log {self.log_path}:\n"
                f"{_tail(self.log_path)}"
            ) from exc

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def check_alive(self) -> None:
        if self._process is not None and self._process.returncode is not None:
            raise LedgerStartError(
                f"{self.service} exited with {self._process.returncode}; log {self.log_path}:\n"
                f"{_tail(self.log_path)}"
            )

    async def _wait_serving(self) -> None:
        async with dev_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                self.check_alive()
                with contextlib.suppress(grpc.aio.AioRpcError):
                    answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                await asyncio.sleep(0.2)

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait (SIGKILL after timeout); returns the exit code."""
        code: int | None = None
        process = self._process
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                code = await process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code
