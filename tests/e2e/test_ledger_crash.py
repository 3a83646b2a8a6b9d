"""Killing the ledger mid-batch loses nothing acknowledged and posts nothing twice."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import grpc
import pytest

from devstack.provision import drop_database, provision
from devstack.stack import Stack, StackConfig
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.server import MAX_MESSAGE_BYTES
from tests.e2e.conftest import free_ports
from tests.helpers import connect
from tests.integration.ledger_support import R, account, transfer

BATCH = 2000
HOT = "hot.asset"
COLD = [f"cold{i}.liability" for i in range(100)]


def _batch(client: int, number: int) -> list[pb.TransferSpec]:
    specs = []
    for i in range(BATCH):
        cold = COLD[(client * 31 + number * 7 + i) % len(COLD)]
        other = COLD[(client + number + i * 13) % len(COLD)]
        debit, credit = (HOT, cold) if i % 5 == 0 else (other, cold)
        if debit == credit:
            debit = HOT
        specs.append(transfer(f"c{client}.b{number}.{i}", (debit, credit, 1 + i % 97)))
    return specs


async def _send(stub: pb_grpc.LedgerServiceAsyncStub, specs: list[pb.TransferSpec]) -> list[int]:
    response = await stub.CreateTransfers(pb.CreateTransfersRequest(transfers=specs), timeout=60)
    return [r.result for r in response.results]


@pytest.fixture
async def ledger_only(admin_url: str, tmp_path: Path) -> object:
    name = f"paysuite_crash_{secrets.token_hex(4)}"
    url = await provision(admin_url, name)
    stack = Stack(
        StackConfig(
            database_url=url,
            data_dir=tmp_path,
            ports=free_ports(["gateway", "ledger", "identity", "recon", "banksim"]),
        )
    )
    await stack.migrate(("ledger",))
    await stack.start(services=("ledger",), simulator=False)
    try:
        yield stack, url
    finally:
        await stack.stop()
        await drop_database(admin_url, name)


async def test_kill_mid_batch_loses_nothing_acknowledged(ledger_only: tuple[Stack, str]) -> None:
    stack, url = ledger_only
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    channel = connect(stack.config.addr("ledger"), options=options)
    stub = pb_grpc.LedgerServiceStub(channel)
    await stub.CreateAccounts(
        pb.CreateAccountsRequest(
            accounts=[account(HOT, pb.ACCOUNT_TYPE_ASSET), *(account(c) for c in COLD)]
        )
    )
    acked: dict[tuple[int, int], list[int]] = {}
    unacked: list[tuple[int, int]] = []

    async def client(n: int) -> None:
        for number in range(1000):
            try:
                acked[(n, number)] = await _send(stub, _batch(n, number))
            except grpc.aio.AioRpcError:
                unacked.append((n, number))
                return

    clients = [asyncio.create_task(client(n)) for n in range(3)]
    while len(acked) < 4:
        await asyncio.sleep(0.05)
    stack.kill("ledger")
    await asyncio.gather(*clients)
    assert unacked, "the kill should have cut some batches off"
    assert all(r == R.CREATE_TRANSFER_RESULT_POSTED for rs in acked.values() for r in rs)

    await stack.restart("ledger")
    await channel.close(None)
    channel = connect(stack.config.addr("ledger"), options=options)
    stub = pb_grpc.LedgerServiceStub(channel)
    db = await asyncpg.connect(plain_postgres_url(url))
    try:
        acked_ids = [f"c{n}.b{b}.{i}" for n, b in acked for i in range(BATCH)]
        stored = await db.fetchval(
            "SELECT count(*) FROM ledger.transfers WHERE transfer_id = ANY($1::text[])", acked_ids
        )
        assert stored == len(acked_ids)
        for n, number in unacked:
            results = await _send(stub, _batch(n, number))
            assert set(results) <= {
                R.CREATE_TRANSFER_RESULT_POSTED,
                R.CREATE_TRANSFER_RESULT_EXISTS,
            }
        expected = (len(acked) + len(unacked)) * BATCH
        assert await db.fetchval("SELECT count(*) FROM ledger.transfers") == expected
        assert await db.fetchval("SELECT count(*) FROM ledger.entries") == 2 * expected
        mismatched = await db.fetchval(
            """SELECT count(*) FROM ledger.accounts a LEFT JOIN (
                   SELECT account_id,
                          sum(amount) FILTER (WHERE side = 'D') AS d,
                          sum(amount) FILTER (WHERE side = 'C') AS c
                   FROM ledger.entries GROUP BY account_id) e USING (account_id)
               WHERE a.debits_posted <> coalesce(e.d, 0) OR a.credits_posted <> coalesce(e.c, 0)"""
        )
        assert mismatched == 0
        assert (
            await db.fetchval("SELECT sum(debits_posted - credits_posted) FROM ledger.accounts")
            == 0
        )
    finally:
        await db.close()
        await channel.close(None)
