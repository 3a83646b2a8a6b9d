"""Random and hostile requests to every unary RPC of every service: never INTERNAL or UNKNOWN,
a refused call writes nothing, and the ledger's books still balance afterwards."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import grpc
import pytest
from google.protobuf import text_format
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.type.date_pb2 import Date
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from devstack import seed
from devstack.callers import caller_for, suite_policy
from devstack.pki import DevCA
from paysuite.gateway.v1 import channel_records_pb2, gateway_service_pb2
from paysuite.identity.v1 import identity_service_pb2
from paysuite.ledger.v1 import ledger_service_pb2
from paysuite.recon.v1 import funds_service_pb2, recon_service_pb2
from paysuite.runtime.identities import Identity
from tests.integration.hostile_requests import FUZZ_MERCHANT, messages

SERVICES: dict[str, list[ServiceDescriptor]] = {
    "gateway": [
        gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"],
        channel_records_pb2.DESCRIPTOR.services_by_name["ChannelRecordsService"],
    ],
    "ledger": [ledger_service_pb2.DESCRIPTOR.services_by_name["LedgerService"]],
    "identity": [identity_service_pb2.DESCRIPTOR.services_by_name["IdentityService"]],
    "recon": [
        recon_service_pb2.DESCRIPTOR.services_by_name["ReconService"],
        funds_service_pb2.DESCRIPTOR.services_by_name["FundsService"],
    ],
}
SCHEMAS = tuple(SERVICES)
T = TypeVar("T")
REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.OUT_OF_RANGE,
}
# The shared suite's business date must not move under the other tests: a cut is asked for
# with a date long past, so it is refused whatever else the request holds.
PINNED = {"RunDayCut": {"expected_business_date": Date(year=2000, month=1, day=1)}}


def _unary_methods() -> Iterator[tuple[str, MethodDescriptor]]:
    for service, descriptors in SERVICES.items():
        for descriptor in descriptors:
            for method in descriptor.methods:
                if not method.client_streaming and not method.server_streaming:
                    yield service, method


METHODS = list(_unary_methods())


async def _row_counts(db: asyncpg.Connection) -> dict[str, int]:
    tables = await db.fetch(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])"
        " AND tablename <> 'alembic_version'",
        list(SCHEMAS),
    )
    query = " UNION ALL ".join(
        f"SELECT '{t['schemaname']}.{t['tablename']}', count(*) FROM "
        f'"{t["schemaname"]}"."{t["tablename"]}"'
        for t in tables
    )
    return dict(await db.fetch(query))


async def _unbalanced_transfers(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch(
        "SELECT transfer_id FROM ledger.entries GROUP BY transfer_id, currency"
        " HAVING sum(CASE side WHEN 'D' THEN amount ELSE -amount END) <> 0"
    )
    return [r["transfer_id"] for r in rows]


def _call(
    channels: Callable[[Message], grpc.Channel], method: MethodDescriptor, request: Message
) -> None:
    response_class = GetMessageClass(method.output_type)
    call = channels(request).unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    call(request, timeout=20)


def _requests(method: MethodDescriptor) -> st.SearchStrategy[Message]:
    pinned = PINNED.get(method.name, {})

    def pin(message: Message) -> Message:
        for field, value in pinned.items():
            getattr(message, field).CopyFrom(value)
        return message

    return messages(method.input_type).map(pin)


def _hammer(
    method: MethodDescriptor,
    address: str,
    examples: int,
    db: Callable[[Callable[[asyncpg.Connection], Coroutine[Any, Any, Any]]], Any],
) -> None:
    """Runs in a worker thread with blocking channels (Hypothesis drives sync tests); the
    servers and the database connection stay on the test's event loop, reached through db.

    Each request is sent as an identity the policy lets call the RPC (the operator where it
    may), so it reaches the service's own checks."""
    ca = DevCA(Path(os.environ["PAYSUITE_PKI_DIR"]))
    policy = suite_policy()
    full_name = f"/{method.containing_service.full_name}/{method.name}"
    opened: dict[Identity, grpc.Channel] = {}

    def channels(_request: Message) -> grpc.Channel:
        # Merchants' RPCs go as the fuzz's merchant, whatever merchant the request names.
        identity = caller_for(policy, full_name, merchant_id=FUZZ_MERCHANT)
        if identity not in opened:
            opened[identity] = grpc.secure_channel(address, ca.credentials(identity))
        return opened[identity]

    try:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(request=_requests(method))
        def one(request: Message) -> None:
            note(text_format.MessageToString(request, as_one_line=True)[:2000])
            before = db(_row_counts)
            try:
                _call(channels, method, request)
            except grpc.RpcError as error:
                code = error.code()
                assert code in REFUSALS, f"{method.full_name} answered {code}"
                if code is grpc.StatusCode.INVALID_ARGUMENT:
                    assert db(_row_counts) == before, f"{method.full_name} wrote"

        one()
    finally:
        for channel in opened.values():
            channel.close()


async def _hammer_from_thread(
    service: str,
    method: MethodDescriptor,
    addresses: dict[str, str],
    conn: asyncpg.Connection,
    examples: int,
) -> None:
    loop = asyncio.get_running_loop()

    def db(query: Callable[[asyncpg.Connection], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(query(conn), loop).result()

    await asyncio.to_thread(_hammer, method, addresses[service], examples, db)
    assert await _unbalanced_transfers(conn) == []


def _method_id(case: Any) -> str:
    return f"{case[0]}.{case[1].name}" if isinstance(case, tuple) else str(case)


@pytest.fixture(scope="module")
async def fuzz_merchant(gateway_addr: str, ledger_addr: str) -> str:
    """The fuzz's own merchant, registered with its payable."""
    await seed.seed_ledger(ledger_addr, FUZZ_MERCHANT)
    await seed.seed_merchant(gateway_addr, FUZZ_MERCHANT)
    return FUZZ_MERCHANT


@pytest.mark.parametrize("case", METHODS, ids=_method_id)
async def test_hostile_requests_are_refused_cleanly(
    case: tuple[str, MethodDescriptor],
    addresses: dict[str, str],
    db: asyncpg.Connection,
    fuzz_merchant: str,
) -> None:
    await _hammer_from_thread(*case, addresses, db, examples=6)


@pytest.mark.slow
@pytest.mark.parametrize("case", METHODS, ids=_method_id)
async def test_many_hostile_requests_are_refused_cleanly(
    case: tuple[str, MethodDescriptor],
    addresses: dict[str, str],
    db: asyncpg.Connection,
    fuzz_merchant: str,
) -> None:
    await _hammer_from_thread(*case, addresses, db, examples=150)
