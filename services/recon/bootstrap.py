"""Composition root: wires recon's database, gateway client and servicer into a ServiceApp."""

from __future__ import annotations

from pathlib import Path

from paysuite.clock import utc_now
from paysuite.recon.v1 import recon_service_pb2, recon_service_pb2_grpc
from paysuite.runtime.clients import open_channel
from paysuite.runtime.database import SqlUnitOfWork, create_engine
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.server import ServiceApp, grpc_service_app
from recon.adapters import banksim_statement
from recon.adapters.gateway_client import GrpcGatewayRecords
from recon.adapters.repository import ReconRepository
from recon.adapters.statement_repository import StatementRepository
from recon.adapters.statements import open_reader
from recon.adapters.uploads import SpooledUpload
from recon.entrypoints.servicer import ReconServicer, StatementImports
from recon.settings import ReconSettings

SCHEMA = "recon"


async def build_app(settings: ReconSettings) -> ServiceApp:
    engine = create_engine(
        settings.dsn, schema=SCHEMA, service="recon", pool_size=settings.db_pool_size
    )
    gateway_channel = open_channel(settings.gateway_addr)
    servicer = ReconServicer(
        lambda: SqlUnitOfWork(engine, ReconRepository),
        GrpcGatewayRecords(gateway_channel),
        banksim_statement.parse,
        utc_now,
        StatementImports(
            lambda: SqlUnitOfWork(engine, StatementRepository), open_reader, SpooledUpload
        ),
    )

    return grpc_service_app(
        "recon",
        recon_service_pb2.DESCRIPTOR.services_by_name["ReconService"],
        recon_service_pb2_grpc.add_ReconServiceServicer_to_server,
        servicer,
        on_stop=[lambda: gateway_channel.close(grace=None), engine.dispose],
    )


DEFINITION = ServiceDefinition(
    name="recon",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=ReconSettings,
    build=build_app,
)
