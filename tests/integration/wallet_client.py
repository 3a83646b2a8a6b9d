"""Shared by the wallet tests: a running walletsim, a signing client, a notification receiver."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from paysuite.http_signing import new_nonce, sign, verify
from walletsim.app import create_app
from walletsim.settings import Flavour, WalletSimSettings

MERCHANT = "PAYSUITE01"
HEADERS = {Flavour.ALIPAY: "Alipay-Signature", Flavour.WECHAT: "Wechatpay-Signature"}
ACKS = {Flavour.ALIPAY: (200, b"success"), Flavour.WECHAT: (204, b"")}


def wallet_settings(flavour: Flavour, secret: str, **overrides: Any) -> WalletSimSettings:
    """A seeded wallet on a free port, every fault off, short buyer and retry delays."""
    values: dict[str, Any] = {
        "secret": SecretStr(secret),
        "flavour": flavour,
        "host": "127.0.0.1",
        "port": 0,
        "merchant_id": MERCHANT,
        "seed": 11,
        "decide_ms": 150,
        "notify_backoff_ms": 40,
        "notify_timeout_ms": 2_000,
    }
    values.update(overrides)
    return WalletSimSettings(**values)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WalletClient:
    """Talks to a running wallet as a merchant would: every API request signed."""

    session: aiohttp.ClientSession
    base_url: str
    flavour: Flavour
    secret: str = field(repr=False)

    @property
    def header(self) -> str:
        return HEADERS[self.flavour]

    async def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        params: dict[str, str] | None = None,
        secret: str | None = None,
        signature: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None:
            key = (self.secret if secret is None else secret).encode()
            signature = sign(key, body, now=int(time.time()), nonce=new_nonce())
        if signature:
            headers[self.header] = signature
        async with self.session.request(
            method,
            self.base_url + path,
            data=body or None,
            params=params,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return Reply(response.status, await response.read(), dict(response.headers))

    def assert_signed(self, reply: Reply) -> None:
        verify(self.secret.encode(), reply.body, reply.headers[self.header], now=int(time.time()))

    async def alipay(
        self, method: str, content: dict[str, Any], notify_url: str = ""
    ) -> dict[str, Any]:
        """An Alipay method's response object (or error_response), after checking the signature."""
        envelope: dict[str, Any] = {"app_id": MERCHANT, "method": method, "biz_content": content}
        if notify_url:
            envelope["notify_url"] = notify_url
        reply = await self.call("POST", "/gateway.do", envelope)
        assert reply.status == 200, reply.body
        self.assert_signed(reply)
        answer = reply.json()
        key = method.replace(".", "_") + "_response"
        result: dict[str, Any] = answer.get(key) or answer["error_response"]
        return result

    async def ask_bill(self, day: str) -> Reply:
        """The answer to the bill request of the day: where its file is (or why not yet)."""
        if self.flavour is Flavour.ALIPAY:
            envelope = {
                "app_id": MERCHANT,
                "method": "alipay.data.dataservice.bill.downloadurl.query",
                "biz_content": {"bill_type": "trade", "bill_date": day},
            }
            return await self.call("POST", "/gateway.do", envelope)
        params = {"bill_date": day, "mchid": MERCHANT, "bill_type": "ALL"}
        return await self.call("GET", "/v3/bill/tradebill", params=params)

    async def bill_location(self, day: str) -> tuple[str, str]:
        """The day's bill file's download URL and its SHA1 ("" where the wallet names none),
        from the bill request's signed answer."""
        asked = await self.ask_bill(day)
        assert asked.status == 200, asked.body
        self.assert_signed(asked)
        if self.flavour is Flavour.ALIPAY:
            answer = asked.json()["alipay_data_dataservice_bill_downloadurl_query_response"]
            assert answer["code"] == "10000", answer
            return str(answer["bill_download_url"]), ""
        answer = asked.json()
        assert answer["hash_type"] == "SHA1"
        return str(answer["download_url"]), str(answer["hash_value"])

    async def download_bill(self, url: str) -> Reply:
        """A bill file from its download URL, as the wallet wants it fetched: WeChat Pay's
        signed as its API requests, Alipay's by the URL alone."""
        if self.flavour is Flavour.WECHAT:
            assert url.startswith(self.base_url)
            return await self.call("GET", url.removeprefix(self.base_url))
        async with self.session.get(url) as response:
            return Reply(response.status, await response.read(), dict(response.headers))

    async def fetch_bill(self, day: str) -> bytes:
        """The day's bill file in the wallet's two steps, its SHA1 checked where named."""
        url, sha1 = await self.bill_location(day)
        got = await self.download_bill(url)
        assert got.status == 200, got.body
        if sha1:
            assert hashlib.sha1(got.body, usedforsecurity=False).hexdigest() == sha1
        return got.body

    async def admin(self, method: str, path: str, payload: Any = None) -> Any:
        async with self.session.request(method, self.base_url + path, json=payload) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.admin("POST", "/_admin/faults", faults)
        return result

    async def reset_faults(self) -> None:
        await self.set_faults(
            accepted_rate=0,
            decline_rate=0,
            timeout_rate=0,
            error_rate=0,
            latency_ms=0,
            notify_delay_ms=0,
            notify_duplicate_rate=0,
            notify_drop_rate=0,
            notify_max_attempts=0,
            notify_copies=1,
            decide_ms=150,
            notify_backoff_ms=40,
        )

    async def transaction(self, out_trade_no: str) -> dict[str, Any]:
        trades: list[dict[str, Any]] = await self.admin("GET", "/_admin/transactions")
        [found] = [t for t in trades if t["out_trade_no"] == out_trade_no]
        return found

    async def notifications(self, out_trade_no: str) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = await self.admin("GET", "/_admin/notifications")
        return [n for n in sent if n["out_trade_no"] == out_trade_no]

    async def settled_notifications(
        self, out_trade_no: str, count: int, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Waits until `count` deliveries of the trade are acknowledged, dropped or given up."""
        async with asyncio.timeout(timeout):
            while True:
                found = await self.notifications(out_trade_no)
                done = [n for n in found if n["acknowledged"] or n["dropped"] or n["gave_up"]]
                if len(done) >= count:
                    return found
                await asyncio.sleep(0.03)


@contextlib.asynccontextmanager
async def serving_app(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """A simulator's real app on loopback (port 0: a free one); yields its URL."""
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running_wallet(
    settings: WalletSimSettings, app: web.Application | None = None
) -> AsyncIterator[WalletClient]:
    """The simulator's real app (made from settings unless given) on loopback, with a client
    for it."""
    async with (
        serving_app(app or create_app(settings), settings.port or 0) as url,
        aiohttp.ClientSession() as session,
    ):
        yield WalletClient(session, url, settings.flavour, settings.secret_bytes.decode())


@dataclass
class Receiver:
    """A merchant's notify endpoint: checks signatures, refuses the first `refuse` posts."""

    flavour: Flavour
    secret: str = field(repr=False)
    refuse: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    times: list[float] = field(default_factory=list)
    answer: Callable[[], tuple[int, bytes]] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify(
            self.secret.encode(), body, request.headers[HEADERS[self.flavour]], now=int(time.time())
        )
        self.times.append(time.monotonic())
        if self.refused < self.refuse:
            self.refused += 1
            return web.Response(status=500, body=b"fail")
        if self.flavour is Flavour.ALIPAY:
            assert request.content_type == "application/x-www-form-urlencoded"
            self.received.append({k: v[0] for k, v in parse_qs(body.decode()).items()})
        else:
            self.received.append(json.loads(body))
        status, reply = self.answer() if self.answer else ACKS[self.flavour]
        return web.Response(status=status, body=reply)


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    """Serves the receiver on loopback; yields its notify URL."""
    app = web.Application()
    app.router.add_post("/notify", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    finally:
        await runner.cleanup()
