"""The three channel simulators' admin endpoints, as the soak uses them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from devstack.stack import Stack

BANK = "banksim"
ALIPAY = "alipaysim"
WECHAT = "wechatsim"
SIMULATORS = (BANK, ALIPAY, WECHAT)
WALLETS = (ALIPAY, WECHAT)


class Simulators:
    """Dials faults, reads transactions and decides wallet trades on the running simulators."""

    def __init__(self, http: aiohttp.ClientSession, stack: Stack) -> None:
        self.http = http
        self.stack = stack

    async def admin(self, name: str, method: str, path: str, body: Any = None) -> Any:
        url = self.stack.config.simulator_url(name) + path
        async with self.http.request(method, url, json=body) as response:
            assert response.status == 200, f"{name} {method} {path}: HTTP {response.status}"
            return await response.json()

    async def faults(self, name: str) -> dict[str, float]:
        faults: dict[str, float] = await self.admin(name, "GET", "/_admin/faults")
        return faults

    async def dial(self, name: str, knobs: Mapping[str, float]) -> None:
        await self.admin(name, "POST", "/_admin/faults", dict(knobs))

    async def dial_all(self, knobs: Mapping[str, Mapping[str, float]]) -> None:
        await asyncio.gather(*(self.dial(name, knobs[name]) for name in SIMULATORS))

    async def transactions(self, name: str) -> dict[str, dict[str, Any]]:
        """The simulator's orders or trades by out_trade_no (our payment id)."""
        listed = await self.admin(name, "GET", "/_admin/transactions")
        return {t["out_trade_no"]: t for t in listed}

    async def decide(self, wallet: str, payment_id: str, status: str) -> None:
        """The wallet buyer pays (or not) now."""
        path = f"/_admin/transactions/{payment_id}/decide"
        await self.admin(wallet, "POST", path, {"status": status})
