"""Resident memory of the suite's processes, read from /proc/<pid>/status (VmRSS), and the
Postgres backends of one database summed; Linux only (elsewhere every reading is absent).

A Postgres backend's VmRSS counts the pages of shared buffers it has touched (RssShmem), the
same pages in every backend, growing as it reads more of the cache: the backends are therefore
summed twice, as POSTGRES (private memory: VmRSS less RssShmem, what a leak would grow) and as
POSTGRES_VMRSS (VmRSS as it is, for reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
POSTGRES = "postgres"
POSTGRES_VMRSS = "postgres (VmRSS)"
KB_PER_MB = 1024


@dataclass(frozen=True)
class Rss:
    """One process's resident memory in kB: all of it, and the part that is shared memory."""

    total_kb: int
    shared_kb: int = 0

    @property
    def private_kb(self) -> int:
        return self.total_kb - self.shared_kb


@dataclass(frozen=True)
class Sample:
    """Resident MB of each process at `at` seconds into the run (a process gone is absent),
    and how many Postgres backends the database had (their sum moves with their number)."""

    at: float
    mb: dict[str, float]
    backends: int = 0


def parse_status(text: str) -> Rss | None:
    """VmRSS and RssShmem of a /proc/<pid>/status text; None without VmRSS (a zombie)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssShmem"):
            found[key] = int(value.split()[0])
    if "VmRSS" not in found:
        return None
    return Rss(found["VmRSS"], found.get("RssShmem", 0))


def backend_database(title: str) -> str | None:
    """The database of a Postgres backend from its process title, "postgres: [cluster:] user
    database client state"; None for the server's own processes (checkpointer, walwriter...)."""
    words = title.replace("\0", " ").split()
    if len(words) < 4 or words[0] != "postgres:":
        return None
    if words[1].endswith(":"):  # cluster_name, when set
        words = words[1:]
    if len(words) < 4:
        return None
    client = words[3]  # "host(port)" or "[local]"
    if client != "[local]" and not (client.endswith(")") and "(" in client):
        return None
    return words[2]


def read_rss(pid: int) -> Rss | None:
    """One process's reading; None once it is gone."""
    try:
        return parse_status((PROC / str(pid) / "status").read_text())
    except OSError:
        return None


def backends_of(database: str) -> list[int]:
    """Pids of the Postgres backends connected to a database, now."""
    if not PROC.is_dir():
        return []
    pids: list[int] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != POSTGRES:
                continue
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if backend_database(title) == database:
            pids.append(int(entry.name))
    return pids


def readings_to_mb(at: float, named: Mapping[str, Rss | None], backends: list[Rss]) -> Sample:
    """A sample of named readings (absent ones left out) and the backends summed."""
    mb = {name: rss.total_kb / KB_PER_MB for name, rss in named.items() if rss is not None}
    if backends:
        mb[POSTGRES] = sum(b.private_kb for b in backends) / KB_PER_MB
        mb[POSTGRES_VMRSS] = sum(b.total_kb for b in backends) / KB_PER_MB
    return Sample(at, mb, len(backends))


def sample(at: float, pids: Mapping[str, int], database: str) -> Sample:
    """Each named process's VmRSS and the database's backends, read now."""
    named = {name: read_rss(pid) for name, pid in pids.items()}
    backends = [rss for pid in backends_of(database) if (rss := read_rss(pid)) is not None]
    return readings_to_mb(at, named, backends)
