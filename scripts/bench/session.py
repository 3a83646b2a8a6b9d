"""What both benchmarks do around a run: progress lines, Postgres found and cleaned up after
(the run's databases dropped, the embedded server stopped if the run started it), a work
folder, and work done in processes of its own."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devstack.postgres import DEFAULT_DATA_DIR, server_url, stop_embedded
from devstack.provision import drop_database

from .pgbench import PGBENCH_DATABASE

T = TypeVar("T")


def say(message: str) -> None:
    """Progress goes to stderr; stdout carries only the summary and the last line."""
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


async def spawned(function: Callable[..., T], *args: object) -> T:
    """Runs a function in a fresh process, off this process's event loop and CPU account."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


@dataclass(frozen=True)
class BenchRun:
    admin_url: str
    run_id: str
    work_dir: Path

    @property
    def database(self) -> str:
        """The run's own database (provisioned by the benchmark, dropped at the end)."""
        return f"paysuite_bench_{self.run_id}"

    def keep_work_dir(self, keep: bool, what: str) -> None:
        """Keeps the work folder (its logs and traces) when asked; else removes it."""
        if keep and any(self.work_dir.iterdir()):
            say(f"{what} kept in {self.work_dir}")
        else:
            shutil.rmtree(self.work_dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def bench_run() -> AsyncIterator[BenchRun]:
    started_here = (
        not os.environ.get("DATABASE_URL") and not (DEFAULT_DATA_DIR / "postmaster.pid").exists()
    )
    say("locating Postgres ...")
    admin_url = server_url()
    run_id = secrets.token_hex(4)
    work_dir = Path(tempfile.mkdtemp(prefix=f"paysuite-bench-{run_id}-"))
    run = BenchRun(admin_url, run_id, work_dir)
    try:
        yield run
    finally:
        say("cleaning up: dropping the benchmark databases")
        await drop_database(admin_url, run.database)
        await drop_database(admin_url, PGBENCH_DATABASE)
        if started_here:
            stop_embedded()


def run_main(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """The exit code of main, 130 when interrupted."""
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        say("interrupted")
        return 130
