"""The wallet simulators settle with the platform over real HTTP: a day's takings (payments less
the wallet's fees, less the day's refunds with the fees they gave back) paid into the reserve
account at a real bank simulator under STL-<channel>-<date>, once, shown on the bank's signed
camt.053; due settle_delay_ms after the day ends (dialled), nothing before; a day with nothing
taken pays nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from channelsim.amounts import fee_for, yuan
from channelsim.app import create_app as create_bank
from channelsim.banktime import SHANGHAI
from channelsim.settings import ChannelSimSettings
from paysuite.dev_secrets import DEV_BANK_SECRET
from tests.integration.test_channelsim_http import Bank
from tests.integration.test_walletsim import pay
from tests.integration.test_walletsim_bills import refund
from tests.integration.wallet_client import (
    WalletClient,
    running_wallet,
    serving_app,
    wallet_settings,
)
from walletsim.app import create_app as create_wallet
from walletsim.settings import Flavour
from walletsim.settlement import SETTLER, Settler, due_at

SECRET = "wallet-settlement-secret"
NOWHERE = "http://127.0.0.1:9/notify"
ACCOUNT = "6216600000000001688"
FEE_BPS = 60


def _today() -> date:
    return datetime.now(SHANGHAI).date()


@pytest.fixture
async def bank() -> AsyncIterator[Bank]:
    """A bank of the test's own: each channel's settlement of a date is decided once there."""
    settings = ChannelSimSettings(secret=SecretStr(DEV_BANK_SECRET), port=0)
    async with serving_app(create_bank(settings)) as url, aiohttp.ClientSession() as session:
        yield Bank(session, url)


@pytest.fixture(params=[Flavour.ALIPAY, Flavour.WECHAT], ids=lambda f: f.value)
async def wallet(
    request: pytest.FixtureRequest, bank: Bank
) -> AsyncIterator[tuple[WalletClient, Settler]]:
    settings = wallet_settings(request.param, SECRET, fee_bps=FEE_BPS, bank_url=bank.base_url)
    app = create_wallet(settings)
    async with running_wallet(settings, app) as client:
        await client.set_faults(notify_max_attempts=1)
        yield client, app[SETTLER]


def _channel(w: WalletClient) -> str:
    return f"{w.flavour.value}sim"


async def _day_of_trade(w: WalletClient) -> int:
    """Two payments and a part refund; what the wallet owes for them."""
    first, second = f"st_{secrets.token_hex(8)}", f"st_{secrets.token_hex(8)}"
    for no, fen in ((first, 10_000), (second, 2_345)):
        assert (await pay(w, no, fen, NOWHERE))["_state"] == "success"
    await refund(w, first, f"rf_{secrets.token_hex(6)}", 1_000, 10_000)
    taken = sum(fen - fee_for(fen, FEE_BPS) for fen in (10_000, 2_345))
    return taken - (1_000 - fee_for(1_000, FEE_BPS))


async def _settle_now(w: WalletClient, day: date) -> tuple[int, dict[str, Any]]:
    async with w.session.post(f"{w.base_url}/_admin/settlements/{day.isoformat()}") as response:
        return response.status, await response.json()


async def _bank_settlements(bank: Bank, channel: str) -> list[dict[str, Any]]:
    shown = await bank.admin("GET", "/_admin/reserve")
    return [s for s in shown.json()["settlements"] if s["channel"] == channel]


async def test_a_days_takings_are_paid_into_the_reserve_account_once(
    wallet: tuple[WalletClient, Settler], bank: Bank
) -> None:
    w, _ = wallet
    owed = await _day_of_trade(w)
    today = _today()

    status, sent = await _settle_now(w, today)
    again_status, again = await _settle_now(w, today)

    assert (status, again_status) == (201, 200)
    assert sent["amount"] == owed == again["amount"]
    reference = f"STL-{_channel(w)}-{today:%Y%m%d}"
    [decided] = await _bank_settlements(bank, _channel(w))
    assert (decided["amount"], decided["paid"], decided["end_to_end_id"]) == (
        owed,
        owed,
        reference,
    )
    statement = await bank.call(
        "GET", f"/api/accounts/{ACCOUNT}/statements/{today.isoformat()}", secret=DEV_BANK_SECRET
    )
    assert statement.status == 200
    assert statement.body.count(reference.encode()) == 1
    assert f'<Amt Ccy="CNY">{yuan(owed)}</Amt>'.encode() in statement.body


async def test_a_day_is_settled_when_it_falls_due_and_not_before(
    wallet: tuple[WalletClient, Settler], bank: Bank
) -> None:
    w, settler = wallet
    owed = await _day_of_trade(w)
    await w.set_faults(settle_delay_ms=90_000)
    due = due_at(_today(), 90_000)

    await settler.settle_due(due - 1)
    assert await _bank_settlements(bank, _channel(w)) == []

    await settler.settle_due(due)
    [decided] = await _bank_settlements(bank, _channel(w))
    assert decided["amount"] == owed
    async with w.session.get(f"{w.base_url}/_admin/settlements") as response:
        [sent] = await response.json()
    assert sent["booking_time"] == datetime.fromtimestamp(due, SHANGHAI).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    await settler.settle_due(due + 3_600)  # nothing more
    assert len(await _bank_settlements(bank, _channel(w))) == 1


async def test_a_day_without_takings_pays_nothing(
    wallet: tuple[WalletClient, Settler], bank: Bank
) -> None:
    w, _ = wallet
    status, answer = await _settle_now(w, date(2001, 1, 1))
    assert (status, answer["code"]) == (409, "NOTHING_TO_SETTLE")
    assert await _bank_settlements(bank, _channel(w)) == []
