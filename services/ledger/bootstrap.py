"""Composition root: wires the ledger's pool, units of work and servicer into a ServiceApp."""

from __future__ import annotations

from pathlib import Path

from ledger.entrypoints.servicer import LedgerServicer
from ledger.service_layer.expiry import run_expiry
from ledger.service_layer.unit_of_work import LedgerUnits
from ledger.settings import LedgerSettings
from paysuite.clock import utc_now
from paysuite.ledger.v1 import ledger_service_pb2, ledger_service_pb2_grpc
from paysuite.runtime.database import close_pool, create_pool
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.paging import Paging
from paysuite.runtime.server import ServiceApp, grpc_service_app

SCHEMA = "ledger"


async def build_app(settings: LedgerSettings) -> ServiceApp:
    pool = await create_pool(
        settings.dsn, schema=SCHEMA, service="ledger", size=settings.db_pool_size
    )
    units = LedgerUnits(pool)
    paging = Paging(settings.page_token_key.get_secret_value().encode())
    servicer = LedgerServicer(units, utc_now, paging)

    async def expire_holds() -> None:
        await run_expiry(units, utc_now)

    return grpc_service_app(
        "ledger",
        ledger_service_pb2.DESCRIPTOR.services_by_name["LedgerService"],
        ledger_service_pb2_grpc.add_LedgerServiceServicer_to_server,
        servicer,
        background=[expire_holds],
        on_stop=[lambda: close_pool(pool)],
    )


DEFINITION = ServiceDefinition(
    name="ledger",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=LedgerSettings,
    build=build_app,
)
