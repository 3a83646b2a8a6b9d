"""Runs the proxy port (closed while failing) and its admin port; serves until a stop signal."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
from aiohttp import web

from egressproxy.faults import Faults, FaultsUpdate
from egressproxy.forward import ProxyState, create_proxy_app
from egressproxy.settings import EgressProxySettings

_log = logging.getLogger(__name__)


class EgressProxy:
    """One proxy: start() it, point clients at proxy_url, steer it through admin_url or here.

    Failing means refusing: the proxy port stops listening and open connections are dropped,
    so clients get "connection refused" and know nothing was forwarded. Port 0 picks a free
    port on first start and keeps it for later restarts.
    """

    def __init__(self, settings: EgressProxySettings) -> None:
        self.settings = settings
        self.state = ProxyState(settings, Faults(settings.latency_ms, settings.fail))
        self.port = settings.port
        self.admin_port = settings.admin_port
        self._proxy: web.AppRunner | None = None
        self._admin: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    @property
    def proxy_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.settings.host}:{self.admin_port}"

    @property
    def listening(self) -> bool:
        return self._proxy is not None

    async def start(self, *, admin: bool = True) -> None:
        self.state.session = aiohttp.ClientSession(
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.settings.upstream_connect_seconds,
                sock_read=self.settings.upstream_read_seconds,
            ),
        )
        if admin:
            self._admin = web.AppRunner(
                create_admin_app(self), access_log=None, shutdown_timeout=1.0
            )
            await self._admin.setup()
            await web.TCPSite(self._admin, self.settings.host, self.admin_port).start()
            self.admin_port = self._admin.addresses[0][1]
        await self._listen()
        if self.state.faults.fail:
            await self._refuse()
        _log.info(
            "proxy started",
            extra={"proxy_port": self.port, "admin_port": self.admin_port, **self.faults()},
        )

    async def _listen(self) -> None:
        runner = web.AppRunner(create_proxy_app(self.state), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.settings.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._proxy = runner

    async def _refuse(self) -> None:
        runner, self._proxy = self._proxy, None
        if runner is not None:
            await runner.cleanup()

    def faults(self) -> dict[str, int | bool]:
        return self.state.faults.as_dict()

    async def set_faults(self, update: FaultsUpdate) -> Faults:
        """Applies a change; turning `fail` on closes the proxy port, off opens it again."""
        async with self._lock:
            faults = update.apply(self.state.faults)
            self.state.faults = faults
            if faults.fail and self.listening:
                await self._refuse()
            elif not faults.fail and not self.listening:
                await self._listen()
        _log.info("faults changed", extra=faults.as_dict())
        return faults

    async def stop(self) -> None:
        await self._refuse()
        if self.state.session is not None:
            await self.state.session.close()
            self.state.session = None
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None


PROXY = web.AppKey("egressproxy", EgressProxy)


async def _healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[PROXY].faults())


async def _set_faults(request: web.Request) -> web.Response:
    try:
        update = FaultsUpdate.model_validate_json(await request.read())
    except ValueError as exc:
        return web.json_response({"error": "invalid faults", "detail": str(exc)}, status=400)
    faults = await request.app[PROXY].set_faults(update)
    return web.json_response(faults.as_dict())


async def _stats(request: web.Request) -> web.Response:
    proxy = request.app[PROXY]
    return web.json_response(
        {**proxy.state.stats.as_dict(), "listening": proxy.listening, "port": proxy.port}
    )


def create_admin_app(proxy: EgressProxy) -> web.Application:
    """Test and dev endpoints on the admin port: health, faults, counters."""
    app = web.Application()
    app[PROXY] = proxy
    app.add_routes(
        [
            web.get("/healthz", _healthz),
            web.get("/_admin/faults", _get_faults),
            web.post("/_admin/faults", _set_faults),
            web.get("/_admin/stats", _stats),
        ]
    )
    return app


async def serve(settings: EgressProxySettings) -> None:
    """Serves until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    proxy = EgressProxy(settings)
    await proxy.start()
    try:
        await stop.wait()
        _log.info("stopping")
    finally:
        await proxy.stop()
