"""Every service port requires a client certificate of the suite's CA, and each service's policy
decides which identity may call which RPC; refusals write nothing."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.pki import DevCA
from ledger.bootstrap import build_app as build_ledger
from ledger.settings import LedgerSettings
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.identity.v1 import identity_service_pb2 as ipb
from paysuite.identity.v1 import identity_service_pb2_grpc as ipb_grpc
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.recon.v1 import recon_service_pb2 as rpb
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime.grpc_errors import error_reason
from paysuite.runtime.identities import Identity, merchant, operator, service
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import start_in_process

SERVICES = ("gateway", "ledger", "identity", "recon")
HEALTH = health_pb2.HealthCheckRequest(service="")
# Tables a refused call must leave as they were.
TABLES = ("gateway.payments", "gateway.refunds", "gateway.outbox", "ledger.transfers")


async def _health(channel: grpc.aio.Channel) -> int:
    answer = await health_pb2_grpc.HealthStub(channel).Check(HEALTH, timeout=5)
    return int(answer.status)


async def _refused_at_handshake(channel: grpc.aio.Channel) -> None:
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _health(channel)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("name", SERVICES)
async def test_a_plaintext_caller_is_refused(name: str, addresses: dict[str, str]) -> None:
    await _refused_at_handshake(grpc.aio.insecure_channel(addresses[name]))


@pytest.mark.parametrize("name", SERVICES)
async def test_a_tls_caller_without_a_client_certificate_is_refused(
    name: str, addresses: dict[str, str], test_ca: DevCA
) -> None:
    trust_only = grpc.ssl_channel_credentials(root_certificates=test_ca.ca_file.read_bytes())
    await _refused_at_handshake(grpc.aio.secure_channel(addresses[name], trust_only))


@pytest.mark.parametrize("name", SERVICES)
async def test_a_certificate_of_another_ca_is_refused(
    name: str, addresses: dict[str, str], test_ca: DevCA, tmp_path: Path
) -> None:
    """An operator certificate from a CA the suite does not trust (and trusting the suite's
    CA for the server, so only the client certificate is wrong)."""
    stranger = DevCA(tmp_path / "other")
    stranger.ensure([operator()])
    files = stranger.files(operator())
    credentials = grpc.ssl_channel_credentials(
        root_certificates=test_ca.ca_file.read_bytes(),
        private_key=files.key_file.read_bytes(),
        certificate_chain=files.cert_file.read_bytes(),
    )
    await _refused_at_handshake(grpc.aio.secure_channel(addresses[name], credentials))


@pytest.mark.parametrize("name", SERVICES)
async def test_health_is_open_to_every_identity_of_the_suite(
    name: str, addresses: dict[str, str], test_ca: DevCA
) -> None:
    for identity in (operator(), merchant("M100001"), service("recon")):
        async with test_ca.channel(addresses[name], identity) as channel:
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING


STUBS: dict[str, Callable[[grpc.aio.Channel], Any]] = {
    "gateway": gpb_grpc.GatewayServiceStub,
    "ledger": lpb_grpc.LedgerServiceStub,
    "identity": ipb_grpc.IdentityServiceStub,
    "recon": rpb_grpc.ReconServiceStub,
}


def _transfer() -> lpb.CreateTransfersRequest:
    return lpb.CreateTransfersRequest(
        transfers=[
            lpb.TransferSpec(
                transfer_id="policy-test-never-posted",
                postings=[
                    lpb.Posting(
                        debit_account_id="platform.fees.CNY",
                        credit_account_id="merchant.M100001.payable.CNY",
                        amount=Money(currency_code="CNY", minor_units=100),
                    )
                ],
            )
        ]
    )


def _payment(merchant_id: str = "M100001") -> gpb.CreatePaymentRequest:
    return gpb.CreatePaymentRequest(
        request_id="policy-test-never-paid",
        merchant_id=merchant_id,
        merchant_order_no="policy-test",
        amount=Money(currency_code="CNY", minor_units=100),
        method=gpb.PAYMENT_METHOD_BANK_CARD,
        payer_user_id="U100001",
    )


# (service, RPC, request, caller): callers the policies do not name for the RPC.
REFUSED = [
    ("ledger", "GetBusinessDate", lpb.GetBusinessDateRequest(), merchant("M100001")),
    ("ledger", "CreateTransfers", _transfer(), merchant("M100001")),
    ("ledger", "CreateTransfers", _transfer(), operator()),
    ("ledger", "RunDayCut", lpb.RunDayCutRequest(request_id="x"), service("gateway")),
    ("ledger", "RunDayCut", lpb.RunDayCutRequest(request_id="x"), merchant("M100001")),
    ("identity", "GetUser", ipb.GetUserRequest(user_id="U100001"), merchant("M100001")),
    ("identity", "FreezeUser", ipb.FreezeUserRequest(user_id="U100001"), service("gateway")),
    ("gateway", "CreatePayment", _payment(), operator()),
    ("gateway", "CreatePayment", _payment(), service("recon")),
    ("gateway", "RegisterMerchant", gpb.RegisterMerchantRequest(), merchant("M100001")),
    ("gateway", "VerifyCard", gpb.VerifyCardRequest(), merchant("M100001")),
    ("recon", "ListRuns", rpb.ListRunsRequest(), merchant("M100001")),
    ("recon", "ListRuns", rpb.ListRunsRequest(), service("gateway")),
]
# (service, RPC, request, caller): callers the policies name; the service itself answers.
ALLOWED = [
    ("ledger", "GetBusinessDate", lpb.GetBusinessDateRequest(), operator()),
    ("ledger", "GetBusinessDate", lpb.GetBusinessDateRequest(), service("recon")),
    ("ledger", "GetTransfer", lpb.GetTransferRequest(transfer_id="none"), operator()),
    ("identity", "GetUser", ipb.GetUserRequest(user_id="U100001"), operator()),
    ("identity", "GetUser", ipb.GetUserRequest(user_id="U100001"), service("gateway")),
    ("gateway", "GetMerchant", gpb.GetMerchantRequest(merchant_id="M100001"), operator()),
    ("recon", "ListRuns", rpb.ListRunsRequest(), operator()),
]
Case = tuple[str, str, Any, Identity]


def _case_id(case: Case) -> str:
    name, rpc, _, identity = case
    return f"{name}.{rpc}-as-{identity.path}"


async def _call(case: Case, addresses: dict[str, str], ca: DevCA) -> Any:
    name, rpc, request, identity = case
    async with ca.channel(addresses[name], identity) as channel:
        return await getattr(STUBS[name](channel), rpc)(request, timeout=10)


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


@pytest.mark.parametrize("case", REFUSED, ids=_case_id)
async def test_the_policy_refuses_callers_it_does_not_name(
    case: Case, addresses: dict[str, str], test_ca: DevCA, db: asyncpg.Connection
) -> None:
    before = await _counts(db)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(case, addresses, test_ca)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_CALLER_NOT_ALLOWED
    assert await _counts(db) == before


@pytest.mark.parametrize("case", ALLOWED, ids=_case_id)
async def test_the_policy_lets_named_callers_through(
    case: Case, addresses: dict[str, str], test_ca: DevCA
) -> None:
    try:
        await _call(case, addresses, test_ca)
    except grpc.aio.AioRpcError as error:  # the service's own answer, e.g. NOT_FOUND
        assert error.code() not in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAUTHENTICATED,
        )


@pytest.fixture
async def ledger_on_rotating_files(
    suite_db: str, test_ca: DevCA, tmp_path: Path
) -> AsyncIterator[tuple[str, Path]]:
    """A ledger whose certificate files live in a directory of their own; yields its address
    and that directory."""
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    for name in ("ca.pem", "ledger.pem", "ledger.key"):
        shutil.copy(test_ca.directory / name, mounted / name)
    settings = LedgerSettings(pki_dir=mounted)
    running = await start_in_process(await build_ledger(settings), settings)
    try:
        yield f"127.0.0.1:{running.port}", mounted
    finally:
        await running.stop(0)


async def test_rotated_certificate_files_are_served_without_a_restart(
    ledger_on_rotating_files: tuple[str, Path], test_ca: DevCA, tmp_path: Path
) -> None:
    address, mounted = ledger_on_rotating_files
    async with test_ca.channel(address, operator()) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
    # A new CA and a new ledger certificate from it land in the mounted files.
    renewed = DevCA(tmp_path / "renewed")
    renewed.ensure([service("ledger"), operator()])
    for name in ("ca.pem", "ledger.pem", "ledger.key"):
        shutil.copy(renewed.directory / name, mounted / name)
    # New connections: callers of the new CA are let in, those of the old one no longer.
    async with renewed.channel(address, operator()) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
    await _refused_at_handshake(test_ca.channel(address, operator()))


async def test_probes_reach_health_alone_on_the_plaintext_health_port(suite_db: str) -> None:
    settings = LedgerSettings(health_port=0)
    running = await start_in_process(await build_ledger(settings), settings)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.probe_port}") as channel:
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await lpb_grpc.LedgerServiceStub(channel).GetBusinessDate(
                    lpb.GetBusinessDateRequest(), timeout=5
                )
        assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    finally:
        await running.stop(0)
