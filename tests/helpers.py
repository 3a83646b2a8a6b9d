"""Small helpers shared by the test rings."""

from __future__ import annotations

from pathlib import Path

from paysuite.runtime.dsn import dev_service_password, service_role, with_credentials
from paysuite.runtime.migrations import upgrade_to_head

SERVICES = ("gateway", "ledger", "identity", "recon")
SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"


def service_dsn(database_url: str, service: str) -> str:
    """The URL a service connects with: its own role."""
    return with_credentials(database_url, service_role(service), dev_service_password(service))


async def migrate_every_service(database_url: str) -> None:
    """Each service's migrations, in its own schema and as its own role, as `make run` runs them."""
    for service in SERVICES:
        await upgrade_to_head(
            service,
            service,
            service_dsn(database_url, service),
            SERVICES_DIR / service / "migrations" / "versions",
        )
