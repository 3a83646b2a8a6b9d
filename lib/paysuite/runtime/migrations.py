"""Runs a service's Alembic migrations in its own schema, version table included."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

_SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"


def alembic_config(service: str, schema: str, dsn: str, versions_dir: Path) -> Config:
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    config.set_main_option("version_locations", str(versions_dir))
    config.attributes.update({"service": service, "schema": schema, "dsn": dsn})
    return config


async def upgrade_to_head(service: str, schema: str, dsn: str, versions_dir: Path) -> None:
    """Upgrades the schema to the newest revision; safe to run from several replicas."""
    config = alembic_config(service, schema, dsn, versions_dir)
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, config, "head")
