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
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
POSTGRES = "postgres"


def process_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks; raises OSError once it is gone."""
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _postgres_ticks() -> tuple[dict[int, int], dict[int, str]]:
    """Every Postgres process's ticks, and what it works for (postgres_role)."""
    found: dict[int, int] = {}
    roles: dict[int, str] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == POSTGRES:
                pid = int(entry.name)
                found[pid] = process_ticks(pid)
                roles[pid] = postgres_role((entry / "cmdline").read_bytes())
        except OSError:
            continue  # gone meanwhile
    return found, roles


def postgres_role(cmdline: bytes) -> str:
    """What a Postgres process works for, from the title it sets ("postgres: [cluster:] user
    database host state" for a backend): a service's backends by their role (paysuite_gateway
    -> gateway), other clients' backends, autovacuum workers, or the server's own processes."""
    title = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    segment = title.rsplit(": ", 1)[-1]
    if "autovacuum worker" in segment:
        return "autovacuum"
    words = segment.split()
    if len(words) >= 3 and ("(" in words[2] or words[2] == "[local]"):
        user = words[0]
        return user.removeprefix("paysuite_") if user.startswith("paysuite_") else "other"
    return "server"


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    named: dict[str, int]
    postgres: dict[int, int]
    postgres_roles: dict[int, str] = field(default_factory=dict)
    # The whole machine's CPU ticks (busy and all) and context switches (machine_counters).
    machine: dict[str, int] = field(default_factory=dict)


def machine_counters(stat: str) -> dict[str, int]:
    """From /proc/stat's text: the machine's busy and total CPU ticks (idle and iowait are not
    busy), the ticks the hypervisor gave another guest (steal, counted busy), and its context
    switches since boot."""
    counters: dict[str, int] = {}
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if name == "cpu":
            ticks = [int(v) for v in rest.split()[:8]]  # user .. steal
            counters["total"] = sum(ticks)
            counters["busy"] = counters["total"] - ticks[3] - ticks[4]
            counters["steal"] = ticks[7] if len(ticks) > 7 else 0
        elif name == "ctxt":
            counters["context_switches"] = int(rest)
    return counters


def machine_use(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """The machine's busy share of its CPU time between the snapshots, the share of it the
    hypervisor gave other guests, and its context switches in between (empty without /proc)."""
    if not before.machine or not after.machine:
        return {}
    total = after.machine["total"] - before.machine["total"]
    stolen = after.machine.get("steal", 0) - before.machine.get("steal", 0)
    return {
        "busy_share": (after.machine["busy"] - before.machine["busy"]) / total if total else 0.0,
        "steal_share": stolen / total if total else 0.0,
        "context_switches": float(
            after.machine["context_switches"] - before.machine["context_switches"]
        ),
    }


def snapshot(pids: Mapping[str, int]) -> CpuSnapshot:
    """Ticks of each named process (a vanished one is left out) and of every Postgres one."""
    named: dict[str, int] = {}
    if PROC.is_dir():
        for name, pid in pids.items():
            try:
                named[name] = process_ticks(pid)
            except OSError:
                continue
    postgres, roles = _postgres_ticks() if PROC.is_dir() else ({}, {})
    stat = PROC / "stat"
    machine = machine_counters(stat.read_text()) if stat.exists() else {}
    return CpuSnapshot(time.monotonic(), named, postgres, roles, machine)


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


def postgres_seconds_by_role(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Postgres's CPU seconds between the snapshots by what its processes work for."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    spent: dict[str, float] = {}
    for pid, ticks in after.postgres.items():
        role = after.postgres_roles.get(pid, "server")
        spent[role] = spent.get(role, 0.0) + (ticks - before.postgres.get(pid, 0)) / hz
    return spent
