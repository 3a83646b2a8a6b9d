"""Composition root: wires identity's engine, PII vault and servicer into a ServiceApp."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from identity.adapters.crypto import PiiVault, parse_keys
from identity.adapters.gateway_verifier import GatewayCardVerifier
from identity.adapters.limit_store import LimitStore
from identity.adapters.repository import IdentityRepository
from identity.domain.bin_table import BinTable
from identity.entrypoints.servicer import IdentityServicer
from identity.service_layer.deps import IdentityDeps, VerificationPolicy
from identity.settings import IdentitySettings
from paysuite.clock import utc_now
from paysuite.identity.v1 import identity_service_pb2, identity_service_pb2_grpc
from paysuite.runtime.clients import open_channel
from paysuite.runtime.database import (
    PoolSession,
    PoolUnitOfWork,
    SqlUnitOfWork,
    close_pool,
    create_engine,
    create_pool,
)
from paysuite.runtime.entrypoint import ServiceDefinition
from paysuite.runtime.paging import Paging
from paysuite.runtime.request_ids import RequestIdInterceptor, RequestIdStore
from paysuite.runtime.server import ServiceApp, grpc_service_app

SCHEMA = "identity"


def build_vault(settings: IdentitySettings) -> PiiVault:
    keys, active = parse_keys(settings.pii_keys.get_secret_value())
    return PiiVault(keys, active, base64.b64decode(settings.blind_index_key.get_secret_value()))


def card_bank_lookup(table: BinTable) -> Callable[[str], tuple[str, str]]:
    """Issuing bank name and card type from the BIN table; blanks when the BIN is unknown."""

    def lookup(card_number: str) -> tuple[str, str]:
        entry = table.lookup(card_number)
        return (entry.bank_name, entry.card_type.value) if entry else ("", "")

    return lookup


_RPC = "/paysuite.identity.v1.IdentityService/"
# Mutating RPCs answered once per caller and key (ReserveLimit's is its payment id).
IDEMPOTENT = {
    **{
        f"{_RPC}{name}": "request_id"
        for name in ("UnbindCard", "DowngradeTier", "FreezeUser", "CommitLimit", "ReleaseLimit")
    },
    f"{_RPC}ReserveLimit": "payment_id",
}


async def build_app(settings: IdentitySettings) -> ServiceApp:
    engine = create_engine(
        settings.dsn, schema=SCHEMA, service="identity", pool_size=settings.db_pool_size
    )
    # The payment path (reservations, settlements) on plain asyncpg: several times cheaper per
    # statement than through SQLAlchemy, measured.
    pool = await create_pool(
        settings.dsn, schema=SCHEMA, service="identity", size=settings.db_pool_size
    )
    gateway_channel = open_channel(settings.gateway_addr, settings.tls_files)
    deps = IdentityDeps(
        uow=lambda: SqlUnitOfWork(engine, IdentityRepository),
        limit_units=lambda: PoolUnitOfWork(pool, LimitStore),
        limit_sessions=lambda: PoolSession(pool, LimitStore),
        vault=build_vault(settings),
        verifier=GatewayCardVerifier(gateway_channel),
        clock=utc_now,
        bins=card_bank_lookup(BinTable.default()),
        limits=settings.limit_policy(),
        verification=VerificationPolicy(
            attempts_per_user_per_day=settings.attempts_per_user_per_day,
            attempts_per_person_per_day=settings.attempts_per_person_per_day,
            one_user_per_person=settings.one_user_per_person,
        ),
    )
    servicer = IdentityServicer(deps, Paging(settings.page_token_key.get_secret_value().encode()))

    return grpc_service_app(
        "identity",
        identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"],
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server,
        servicer,
        on_stop=[lambda: gateway_channel.close(None), engine.dispose, lambda: close_pool(pool)],
        interceptors=[RequestIdInterceptor(RequestIdStore(pool), IDEMPOTENT)],
    )


DEFINITION = ServiceDefinition(
    name="identity",
    schema=SCHEMA,
    versions_dir=Path(__file__).resolve().parent / "migrations" / "versions",
    settings=IdentitySettings,
    build=build_app,
)
