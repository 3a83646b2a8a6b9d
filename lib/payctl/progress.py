"""Progress bars for payctl's long commands (a statement's upload, a reconciliation run), drawn
with rich on stderr, and only when stderr is a terminal: stdout (and --json on it) never carries
any of it, and a pipe or a log file gets no bar at all."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

# Seconds between two redraws of a bar (the last state is always drawn).
REDRAW_SECONDS = 0.1


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


class Bar:
    """One bar: its figures updated as the work goes, drawn at most every REDRAW_SECONDS.
    A bar that is not shown takes updates and draws nothing."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task
        self._drawn = 0.0

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def update(
        self,
        *,
        completed: float | None = None,
        advance: float | None = None,
        total: float | None = None,
        description: str | None = None,
        final: bool = False,
    ) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(
            self._task,
            completed=completed,
            advance=advance,
            total=total,
            description=description,
        )
        now = time.monotonic()
        if final or now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self._progress.refresh()


@contextmanager
def _bar(description: str, total: float | None, *columns: ProgressColumn) -> Iterator[Bar]:
    if not stderr_is_terminal():
        yield Bar(None, None)
        return
    # The terminal check is ours (stderr only); rich draws on it as on a terminal.
    console = Console(file=sys.stderr, force_terminal=True)
    with Progress(
        *columns,
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as progress:
        yield Bar(progress, progress.add_task(description, total=total))


def upload_bar(description: str, total_bytes: int) -> AbstractContextManager[Bar]:
    """A bar of bytes sent: size done of size in all, speed, time left."""
    return _bar(
        description,
        total_bytes,
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )


def count_bar(description: str, unit: str) -> AbstractContextManager[Bar]:
    """A bar of items done of a total learnt as the work goes (e.g. a run's buckets)."""
    return _bar(
        description,
        None,
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
    )
