"""Session fixtures: a real Postgres (DATABASE_URL or embedded), a fresh database per run."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from devstack.pki import DevCA
from devstack.postgres import DEFAULT_DATA_DIR, server_url, stop_embedded
from devstack.provision import drop_database, provision
from tests.helpers import migrate_every_service

pytest_plugins = ["tests.hang_report"]


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """Superuser URL of the server: DATABASE_URL when set, else the embedded Postgres."""
    started_here = (
        not os.environ.get("DATABASE_URL") and not (DEFAULT_DATA_DIR / "postmaster.pid").exists()
    )
    yield server_url()
    if started_here:
        stop_embedded()


@pytest.fixture(scope="session")
def traces_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces") / "traces.jsonl"


@pytest.fixture(scope="session", autouse=True)
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCA]:
    """A CA of the session's own, with certificates for the services, operator and demo
    merchant; in-process services and test channels find it by PAYSUITE_PKI_DIR."""
    ca = DevCA(tmp_path_factory.mktemp("pki"))
    ca.ensure_suite()
    saved = os.environ.get("PAYSUITE_PKI_DIR")
    os.environ["PAYSUITE_PKI_DIR"] = str(ca.directory)
    yield ca
    if saved is None:
        os.environ.pop("PAYSUITE_PKI_DIR", None)
    else:
        os.environ["PAYSUITE_PKI_DIR"] = saved


@pytest.fixture(scope="session")
async def suite_db(admin_url: str, traces_file: Path) -> AsyncIterator[str]:
    """A freshly provisioned and migrated database; services see it through the environment."""
    name = f"paysuite_test_{secrets.token_hex(4)}"
    url = await provision(admin_url, name)
    await migrate_every_service(url)
    saved = dict(os.environ)
    os.environ.update(
        {"PAYSUITE_ENV": "test", "DATABASE_URL": url, "PAYSUITE_TRACES_FILE": str(traces_file)}
    )
    try:
        yield url
    finally:
        os.environ.clear()
        os.environ.update(saved)
        await drop_database(admin_url, name)


@pytest.fixture(scope="session")
def repo_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parents[1]
