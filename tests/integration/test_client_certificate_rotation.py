"""Outbound channels present the client certificate their files hold now: rotated in place to
another identity's, the next call goes as that identity, without a restart; a call in flight
keeps its connection."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.pki import DevCA
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.clients import open_channel
from paysuite.runtime.grpc_errors import error_reason
from paysuite.runtime.identities import Identity, merchant, service
from paysuite.runtime.tls import TlsFiles
from paysuite.type.v1.error_reason_pb2 import ErrorReason

# The ledger's policy lets recon read the business date and refuses merchants.
ALLOWED, REFUSED = service("recon"), merchant("M100001")


def _rotate_to(ca: DevCA, identity: Identity, files: TlsFiles) -> None:
    """Replaces the mounted key and certificate with the identity's, each file atomically and
    the key first, as a renewal writes them."""
    for source, target in (
        (ca.key_file(identity), files.key_file),
        (ca.cert_file(identity), files.cert_file),
    ):
        staged = target.with_suffix(".staged")
        shutil.copy(source, staged)
        staged.replace(target)


@pytest.fixture
def mounted(test_ca: DevCA, tmp_path: Path) -> TlsFiles:
    """A client's certificate files in a directory of their own, holding the allowed identity's."""
    test_ca.ensure([ALLOWED, REFUSED])
    files = TlsFiles.in_directory(tmp_path, "client")
    shutil.copy(test_ca.ca_file, files.ca_file)
    _rotate_to(test_ca, ALLOWED, files)
    return files


async def _business_date(stub: lpb_grpc.LedgerServiceAsyncStub) -> grpc.StatusCode:
    try:
        await stub.GetBusinessDate(lpb.GetBusinessDateRequest(), timeout=10)
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.PERMISSION_DENIED:
            assert error_reason(error) == ErrorReason.ERROR_REASON_CALLER_NOT_ALLOWED
        return error.code()
    return grpc.StatusCode.OK


async def test_a_rotated_client_certificate_is_presented_without_a_restart(
    ledger_addr: str, test_ca: DevCA, mounted: TlsFiles
) -> None:
    async with asyncio.timeout(60):
        # Looking at the files at every call, so the test need not wait out the interval.
        async with open_channel(ledger_addr, mounted, check_every=0.0) as channel:
            stub = lpb_grpc.LedgerServiceStub(channel)  # made once, as services make theirs
            assert await _business_date(stub) is grpc.StatusCode.OK
            _rotate_to(test_ca, REFUSED, mounted)
            assert await _business_date(stub) is grpc.StatusCode.PERMISSION_DENIED
            assert await _business_date(stub) is grpc.StatusCode.PERMISSION_DENIED
            _rotate_to(test_ca, ALLOWED, mounted)
            assert await _business_date(stub) is grpc.StatusCode.OK


async def test_a_half_rotated_pair_keeps_the_current_certificate(
    ledger_addr: str, test_ca: DevCA, mounted: TlsFiles
) -> None:
    async with asyncio.timeout(60):
        async with open_channel(ledger_addr, mounted, check_every=0.0) as channel:
            stub = lpb_grpc.LedgerServiceStub(channel)
            assert await _business_date(stub) is grpc.StatusCode.OK
            # The new key has landed, its certificate not yet: the old pair goes on.
            shutil.copy(test_ca.key_file(REFUSED), mounted.key_file)
            assert await _business_date(stub) is grpc.StatusCode.OK
            shutil.copy(test_ca.cert_file(REFUSED), mounted.cert_file)
            assert await _business_date(stub) is grpc.StatusCode.PERMISSION_DENIED


async def test_a_stream_open_at_the_rotation_goes_on_over_the_old_connection(
    ledger_addr: str, test_ca: DevCA, mounted: TlsFiles
) -> None:
    async with asyncio.timeout(60):
        channel = open_channel(ledger_addr, mounted, check_every=0.0)
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        _rotate_to(test_ca, REFUSED, mounted)
        stub = lpb_grpc.LedgerServiceStub(channel)
        assert await _business_date(stub) is grpc.StatusCode.PERMISSION_DENIED
        assert not watch.done()  # the replaced connection waits for it
        await channel.close(None)
        assert await watch.code() is grpc.StatusCode.CANCELLED
