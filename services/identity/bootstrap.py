"""Composition root: wires identity's engine, PII vault and servicer into a ServiceApp."""

from __future__ import annotations

import base64
from pathlib import Path

from identity.adapters.crypto import PiiVault, parse_keys
from identity.entrypoints.servicer import IdentityServicer
from identity.service_layer.unit_of_work import uow_factory
from identity.settings import IdentitySettings
from paysuite.clock import utc_now
from paysuite.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from paysuite.runtime.database import create_engine
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.server import ServiceApp, grpc_service_app

SCHEMA = "identity"


def build_vault(settings: IdentitySettings) -> PiiVault:
    keys, active = parse_keys(settings.pii_keys.get_secret_value())
    return PiiVault(keys, active, base64.b64decode(settings.blind_index_key.get_secret_value()))


async def build_app(settings: IdentitySettings) -> ServiceApp:
    engine = create_engine(
        settings.dsn, schema=SCHEMA, service="identity", pool_size=settings.db_pool_size
    )
    servicer = IdentityServicer(uow_factory(engine), build_vault(settings), utc_now)

    return grpc_service_app(
        "identity",
        identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"],
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server,
        servicer,
        on_stop=[engine.dispose],
    )


DEFINITION = ServiceDefinition(
    name="identity",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=IdentitySettings,
    build=build_app,
)
