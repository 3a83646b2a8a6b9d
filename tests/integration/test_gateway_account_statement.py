"""The gateway's FetchAccountStatement against the real bank simulator: the reserve account's
camt.053 of a date comes through as the bank signed it; an account the bank does not keep is
NOT_FOUND, a wallet channel keeps none, a bad request is INVALID_ARGUMENT, and an answer whose
signature does not hold (another secret) is never passed on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import aiohttp
import grpc
import pytest
from google.type.date_pb2 import Date

from paysuite.dev_secrets import DEV_BANK_SECRET
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from tests.helpers import connect
from tests.integration.conftest import Replica, bank_channel
from tests.integration.test_channelsim_http import Bank

ACCOUNT = "6216600000000001688"  # the bank simulator's reserve account (its default)
CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def _request(channel: str, account: str, day: date | None) -> pb.FetchAccountStatementRequest:
    when = None if day is None else Date(year=day.year, month=day.month, day=day.day)
    return pb.FetchAccountStatementRequest(
        channel=channel, account_number=account, statement_date=when
    )


def _path(*names: str) -> str:
    return ".//" + "/".join(f"{{{CAMT053}}}{n}" for n in names)


def _entries(content: bytes) -> list[str | None]:
    """The bank's references of the statement's entries."""
    return [
        e.findtext(_path("AcctSvcrRef"))
        for e in ElementTree.fromstring(content).iter(f"{{{CAMT053}}}Ntry")
    ]


async def _fetch(
    gateway: pb_grpc.GatewayServiceAsyncStub, request: pb.FetchAccountStatementRequest
) -> list[pb.FetchAccountStatementResponse]:
    return [response async for response in gateway.FetchAccountStatement(request)]


@pytest.fixture
async def gateway(gateway_addr: str) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


async def test_the_reserve_accounts_statement_comes_through_as_the_bank_sent_it(
    gateway: pb_grpc.GatewayServiceAsyncStub, bank_url: str
) -> None:
    day = _today()
    chunks = await _fetch(gateway, _request("banksim", ACCOUNT, day))
    assert chunks[0].format == "camt.053.001.08"
    assert all(not c.format for c in chunks[1:])
    content = b"".join(c.chunk for c in chunks)
    statement = ElementTree.fromstring(content)
    assert statement.tag == f"{{{CAMT053}}}Document"
    assert (
        statement.findtext(
            f".//{{{CAMT053}}}Acct/{{{CAMT053}}}Id/{{{CAMT053}}}Othr/{{{CAMT053}}}Id"
        )
        == ACCOUNT
    )
    assert (statement.findtext(_path("FrDtTm")) or "").startswith(day.isoformat())
    # As the bank sent it: the same day's statement straight from the bank has the same entries.
    async with aiohttp.ClientSession() as session:
        bank = Bank(session, bank_url)
        direct = await bank.call(
            "GET", f"/api/accounts/{ACCOUNT}/statements/{day.isoformat()}", secret=DEV_BANK_SECRET
        )
    assert _entries(direct.body) == _entries(content)


async def test_an_account_the_bank_does_not_keep_is_not_found(
    gateway: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _fetch(gateway, _request("banksim", "6216600000000009999", _today()))
    assert refused.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_wallet_channel_keeps_no_account(
    gateway: pb_grpc.GatewayServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _fetch(gateway, _request("alipaysim", ACCOUNT, _today()))
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("channel", "account", "day", "field"),
    [
        ("banksim", "12ab", _today(), "account_number"),
        ("banksim", "", _today(), "account_number"),
        ("", ACCOUNT, _today(), "channel"),
        ("banksim", ACCOUNT, None, "statement_date"),
    ],
)
async def test_a_bad_request_is_refused_with_its_field(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    channel: str,
    account: str,
    day: date | None,
    field: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _fetch(gateway, _request(channel, account, day))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "")


async def test_an_answer_signed_with_another_secret_is_not_passed_on(
    replica: Replica, bank_url: str
) -> None:
    wrong = {"forged": bank_channel(bank_url, secret="not-the-banks-secret")}
    async with replica(extra_channels=wrong) as addr, connect(addr) as channel:
        gateway = pb_grpc.GatewayServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _fetch(gateway, _request("forged", ACCOUNT, _today()))
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
