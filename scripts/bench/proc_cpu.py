"""CPU time of named processes and of all Postgres processes together, read from /proc.

A snapshot holds each process's user + system ticks; the difference of two snapshots is the
CPU each spent in between. Postgres is every process named `postgres` (backends that start
and exit inside a window are missed; the suite's pooled connections live throughout). Linux
only: elsewhere snapshots are empty and every figure is absent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
POSTGRES = "postgres"


def process_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks; raises OSError once it is gone."""
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _postgres_ticks() -> dict[int, int]:
    found: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == POSTGRES:
                found[int(entry.name)] = process_ticks(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    named: dict[str, int]
    postgres: dict[int, int]


def snapshot(pids: Mapping[str, int]) -> CpuSnapshot:
    """Ticks of each named process (a vanished one is left out) and of every Postgres one."""
    named: dict[str, int] = {}
    if PROC.is_dir():
        for name, pid in pids.items():
            try:
                named[name] = process_ticks(pid)
            except OSError:
                continue
    postgres = _postgres_ticks() if PROC.is_dir() else {}
    return CpuSnapshot(time.monotonic(), named, postgres)


def cpu_seconds(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds each process spent between the snapshots, Postgres as one entry."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    spent = {
        name: (ticks - before.named[name]) / hz
        for name, ticks in after.named.items()
        if name in before.named
    }
    if after.postgres:
        ticks = sum(t - before.postgres.get(pid, 0) for pid, t in after.postgres.items())
        spent[POSTGRES] = ticks / hz
    return spent
