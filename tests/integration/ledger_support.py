"""Helpers for ledger integration tests: stubs, account specs, a ledger on its own database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from pydantic import SecretStr

from devstack.provision import drop_database, provision
from ledger.bootstrap import DEFINITION
from ledger.bootstrap import build_app as build_ledger
from ledger.settings import LedgerSettings
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.runtime.migrations import upgrade_to_head
from paysuite.runtime.settings import Environment
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect, service_dsn, start_in_process

R = pb.CreateTransferResult


def cny(amount: int) -> Money:
    return Money(currency_code="CNY", minor_units=amount)


def account(
    account_id: str,
    kind: pb.AccountType.ValueType = pb.ACCOUNT_TYPE_LIABILITY,
    *,
    no_overdraft: bool = False,
    overdraft_limit: int = 0,
    suspense: bool = False,
) -> pb.AccountSpec:
    spec = pb.AccountSpec(
        account_id=account_id,
        name=account_id,
        type=kind,
        currency_code="CNY",
        owner_type=pb.OWNER_TYPE_PLATFORM,
        debits_must_not_exceed_credits=no_overdraft,
        suspense=suspense,
    )
    if overdraft_limit:
        spec.overdraft_limit.CopyFrom(cny(overdraft_limit))
    return spec


def transfer(
    transfer_id: str, *legs: tuple[str, str, int], pending: bool = False, timeout: int = 0
) -> pb.TransferSpec:
    return pb.TransferSpec(
        transfer_id=transfer_id,
        pending=pending,
        timeout_seconds=timeout,
        postings=[
            pb.Posting(debit_account_id=d, credit_account_id=c, amount=cny(a)) for d, c, a in legs
        ],
    )


@dataclass
class Ledger:
    """A ledger client plus a superuser connection to its database, and its address."""

    stub: pb_grpc.LedgerServiceAsyncStub
    db: asyncpg.Connection
    addr: str = ""

    async def accounts(self, *specs: pb.AccountSpec) -> None:
        response = await self.stub.CreateAccounts(pb.CreateAccountsRequest(accounts=list(specs)))
        assert all(r.result == pb.CREATE_ACCOUNT_RESULT_CREATED for r in response.results)

    async def post(self, *specs: pb.TransferSpec) -> list[int]:
        response = await self.stub.CreateTransfers(pb.CreateTransfersRequest(transfers=list(specs)))
        return [r.result for r in response.results]

    async def get(self, account_id: str) -> pb.Account:
        return (await self.stub.GetAccount(pb.GetAccountRequest(account_id=account_id))).account

    async def balance(self, account_id: str) -> int:
        return (await self.get(account_id)).balance.minor_units


def tag() -> str:
    return secrets.token_hex(4)


@asynccontextmanager
async def isolated_ledger(admin_url: str) -> AsyncIterator[Ledger]:
    """A ledger process-in-process on a database of its own, for tests that move its dates."""
    name = f"paysuite_ledger_{secrets.token_hex(4)}"
    url = await provision(admin_url, name)
    dsn = service_dsn(url, "ledger")
    await upgrade_to_head("ledger", "ledger", dsn, DEFINITION.versions_dir)
    settings = LedgerSettings(database_url=SecretStr(dsn), paysuite_env=Environment.TEST)
    running = await start_in_process(await build_ledger(settings), settings)
    db = await asyncpg.connect(plain_postgres_url(url))
    channel = connect(f"127.0.0.1:{running.port}")
    try:
        yield Ledger(pb_grpc.LedgerServiceStub(channel), db, f"127.0.0.1:{running.port}")
    finally:
        await channel.close(None)
        await db.close()
        await running.stop(0)
        await drop_database(admin_url, name)
