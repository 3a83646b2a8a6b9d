"""A pytest plugin that prints every asyncio task's stack when a test runs close to its timeout.

pytest-timeout dumps the threads, and in an async suite they all sit in the event loop's select:
what a hung test waits on is in a task's stack, which only the loop's own thread can read.
"""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from collections.abc import Generator
from dataclasses import dataclass

import pytest

# Seconds before pytest-timeout's own dump, so the tasks are printed while they still wait.
MARGIN_SECONDS = 20.0


@dataclass
class HangReport:
    """The session's event loop (once an async fixture has run on it) and the tasks' printer."""

    loop: asyncio.AbstractEventLoop | None = None

    def print_tasks(self, test: str) -> None:
        """Runs on the loop's thread: every pending task's stack, to stderr."""
        out = io.StringIO()
        tasks = [task for task in asyncio.all_tasks() if not task.done()]
        print(f"\n+++ {len(tasks)} asyncio tasks still pending in {test} +++", file=out)
        for task in tasks:
            print(f"--- {task.get_name()}: {task.get_coro()!r}", file=out)
            task.print_stack(limit=30, file=out)
        sys.stderr.write(out.getvalue())

    def arm(self, test: str, seconds: float) -> threading.Timer | None:
        loop = self.loop
        if loop is None or seconds <= 0:
            return None
        timer = threading.Timer(seconds, lambda: loop.call_soon_threadsafe(self.print_tasks, test))
        timer.daemon = True
        timer.start()
        return timer


_REPORT_KEY = pytest.StashKey[HangReport]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REPORT_KEY] = HangReport()


@pytest.fixture(scope="session", autouse=True)
async def _hang_report_loop(request: pytest.FixtureRequest) -> None:
    """Remembers the session's event loop for the hang report."""
    request.config.stash[_REPORT_KEY].loop = asyncio.get_running_loop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    report = item.config.stash[_REPORT_KEY]
    timeout = float(item.config.getini("timeout") or 0)
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        timeout = float(marker.args[0])
    timer = report.arm(item.nodeid, timeout - MARGIN_SECONDS)
    try:
        return (yield)
    finally:
        if timer is not None:
            timer.cancel()
