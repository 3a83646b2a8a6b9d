"""The reserve (备付金) account on the real suite: after a day of card, Alipay and WeChat Pay
payments and refunds, each channel's settlement of the day arrives in the platform's reserve
account at the bank simulator (the bank's own takings as card acquirer, each wallet's takings
net of its fees and refunds, paid in by the wallet), and `payctl recon reserve --date D`, given
no file, has recon fetch the account's camt.053 through the gateway and reconcile it: every
arrival matched, each channel's receivable cleared, the ledger's reserve balance equal to the
bank's closing balance; a short-paid arrival is reported and parked once, and a re-run posts
nothing. Run before the channels' bills are reconciled, it is refused naming them (a wallet's
fees, and every channel's differences, are known from its bill only) and posts nothing.

Each test runs a suite of its own (its own database, bank and wallets): a channel's settlement
of a date is decided once at the bank and the day's takings must be the test's alone. The
settlements are paid in now through the simulators' controls rather than when they fall due
(after the day ends), so the statement date is the day of the takings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from devstack.stack import DEFAULT_PORTS, Stack, StackConfig
from paysuite import accounts
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from recon.domain.discrepancies import suspense_account
from tests.e2e.conftest import free_ports
from tests.e2e.own_suite import own_suite
from tests.e2e.payctl_run import MERCHANT, payctl
from tests.e2e.test_clearing_end_to_end import CHANNELS, _balance, _day_of_payments, _settled
from tests.integration.test_recon_reserve import _open_items

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHORT_FEN = 100


async def _with_recon(suite: Stack) -> None:
    await suite.migrate(("recon",))
    await suite.start(services=("recon",), simulator=False)


@pytest.fixture
async def suite(admin_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The suite of the test's own, recon included, seeded as `make run` does."""

    def configure(database_url: str) -> StackConfig:
        return StackConfig(database_url, tmp_path, ports=free_ports(list(DEFAULT_PORTS)))

    async with own_suite(admin_url, configure, then=_with_recon) as own:
        yield own


async def _post(url: str, payload: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
        return response.status, await response.json()


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.json()


async def _a_day_of_takings(suite: Stack, day: str, *, reconcile: bool = True) -> dict[str, int]:
    """Payments and refunds on every channel, booked, and (unless told not to) each channel's
    bill of the day reconciled clean (the wallets' fees are known from their bills); each
    channel's receivable."""
    async with (
        suite.channel("gateway", MERCHANT) as gateway_channel,
        suite.channel("ledger") as ledger_channel,
    ):
        # A payment of every channel refunded: the card refund too, on the bank's bill.
        await _day_of_payments(gpb_grpc.GatewayServiceStub(gateway_channel), slice(0, 3))
        ledger = lpb_grpc.LedgerServiceStub(ledger_channel)
        receivables = {
            c: await _settled(ledger, accounts.channel_receivable(c, "CNY")) for c in CHANNELS
        }
    if reconcile:
        _reconcile_bills(suite, day)
    return receivables


def _reconcile_bills(suite: Stack, day: str) -> None:
    """Each channel's bill of the day reconciled clean."""
    recon = ("--recon", suite.config.addr("recon"))
    for channel in CHANNELS:
        run = payctl(suite, "recon", "run", "--channel", channel, "--date", day, *recon)
        assert run["state"] == "completed", run["failure"]
        assert run["discrepancies"] == 0, channel  # every bill agrees, refunds and all


async def _settle(suite: Stack, channel: str, day: str) -> dict[str, Any]:
    """The channel's takings of the day paid into the reserve account now: the bank's own as
    acquirer, a wallet's by the wallet."""
    if channel == "banksim":
        url, payload = f"{suite.config.bank_url}/_admin/reserve/settlements", {"business_date": day}
    else:
        url, payload = f"{suite.config.simulator_url(channel)}/_admin/settlements/{day}", None
    status, answer = await _post(url, payload)
    assert status == 201, answer
    return dict(answer)


def _reserve(suite: Stack, day: str) -> dict[str, Any]:
    answer: dict[str, Any] = payctl(
        suite, "recon", "reserve", "--date", day, "--recon", suite.config.addr("recon")
    )
    return answer


def _refused_reserve(suite: Stack, day: str) -> str:
    """What payctl recon reserve says as it exits 1."""
    command = ("recon", "reserve", "--date", day, "--recon", suite.config.addr("recon"))
    done = subprocess.run(
        [sys.executable, "-m", "payctl", "--as", "operator", *command],
        env=suite.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    return done.stderr


async def _ledger_balances(suite: Stack, *account_ids: str) -> list[int]:
    async with suite.channel("ledger") as channel:
        ledger = lpb_grpc.LedgerServiceStub(channel)
        return [await _balance(ledger, a) for a in account_ids]


async def test_a_days_settlements_arrive_and_the_reserve_account_reconciles_clean(
    suite: Stack,
) -> None:
    day = datetime.now(SHANGHAI).date().isoformat()
    receivables = await _a_day_of_takings(suite, day, reconcile=False)
    assert all(receivables.values())
    for channel in CHANNELS:
        await _settle(suite, channel, day)
    # The money is in, the bills not reconciled yet: the reserve run is refused (a wallet's
    # fees and a bill's differences are known from the bill only), naming them all, rather than
    # find the wallets short.
    early = _refused_reserve(suite, day)
    assert "FAILED_PRECONDITION RECONCILIATION_NOT_CLEAN" in early
    assert f"alipaysim {day}; banksim {day}; wechatsim {day}" in early
    _reconcile_bills(suite, day)

    report = _reserve(suite, day)

    assert report["differences"] == []
    assert (report["balanced"], report["clean"]) == (True, True)
    assert (report["arrivals"], report["matched"], report["unexpected"]) == (3, 3, 0)
    [balance] = report["balances"]
    bank = await _get(f"{suite.config.bank_url}/_admin/reserve")
    assert balance["ledger_minor_units"] == balance["bank_closing_minor_units"] == bank["balance"]
    owed = await _ledger_balances(
        suite, "platform.reserve.CNY", *(accounts.channel_receivable(c, "CNY") for c in CHANNELS)
    )
    assert owed == [bank["balance"], 0, 0, 0]  # every receivable cleared into the reserve

    again = _reserve(suite, day)
    assert (again["posted"], again["clean"], again["differences"]) == (0, True, [])
    assert await _ledger_balances(suite, "platform.reserve.CNY") == [bank["balance"]]


async def test_a_short_paid_arrival_is_reported_and_parked_once(suite: Stack) -> None:
    day = datetime.now(SHANGHAI).date().isoformat()
    await _a_day_of_takings(suite, day)
    bank_faults = f"{suite.config.bank_url}/_admin/faults"
    assert (await _post(bank_faults, {"reserve_short_rate": 1, "reserve_short_fen": SHORT_FEN}))[
        0
    ] == 200
    short = await _settle(suite, "wechatsim", day)
    assert (await _post(bank_faults, {"reserve_short_rate": 0}))[0] == 200
    for channel in ("banksim", "alipaysim"):
        await _settle(suite, channel, day)
    assert short["bank"]["paid"] == short["amount"] - SHORT_FEN

    report = _reserve(suite, day)
    again = _reserve(suite, day)

    expected = short["amount"]
    fields = ("kind", "channel", "business_date", "expected_minor_units", "actual_minor_units")
    assert [[d[f] for f in (*fields, "parked_minor_units")] for d in report["differences"]] == [
        ["short", "wechatsim", day, expected, expected - SHORT_FEN, SHORT_FEN]
    ]
    assert (report["balanced"], report["clean"], report["short"], report["matched"]) == (
        True,
        False,
        1,
        2,
    )
    assert again["posted"] == 0
    assert again["differences"] == report["differences"]
    suspense, receivable = await _ledger_balances(
        suite, suspense_account("wechatsim", "CNY"), accounts.channel_receivable("wechatsim", "CNY")
    )
    # The short part moved out of the receivable into the channel's suspense (debited), once.
    assert (suspense, receivable) == (-SHORT_FEN, 0)
    async with suite.channel("ledger") as ledger_channel:
        ledger = lpb_grpc.LedgerServiceStub(ledger_channel)
        assert await _open_items(ledger, "funds:park:wechatsim:") == [-SHORT_FEN]
