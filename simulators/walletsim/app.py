"""Builds the simulator's aiohttp application for its flavour: state, middlewares and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from opentelemetry.trace import TracerProvider

from channelsim.bill_admin import bill_fault_routes
from channelsim.faults import Dice
from channelsim.tracing import tracing_middlewares
from paysuite.http_signing import NonceCache
from walletsim import admin, settlement_api
from walletsim.alipay import AlipayFlavour
from walletsim.api import wallet_api
from walletsim.bills import Bills
from walletsim.faults import Faults
from walletsim.flavour import WalletFlavour
from walletsim.notifier import Notifier
from walletsim.settings import Flavour, WalletSimSettings
from walletsim.settlement import SETTLER, Settler
from walletsim.state import STATE, WalletState
from walletsim.store import WalletStore
from walletsim.wallet import Wallet
from walletsim.wechat import WechatFlavour


def flavour_of(settings: WalletSimSettings) -> WalletFlavour:
    if settings.flavour is Flavour.WECHAT:
        return WechatFlavour(settings.fee_bps)
    return AlipayFlavour()


def create_app(
    settings: WalletSimSettings, *, tracer_provider: TracerProvider | None = None
) -> web.Application:
    """A ready-to-run wallet; trades live in memory, notifications stop with the app."""
    flavour = flavour_of(settings)
    notifier = Notifier(
        settings.secret_bytes, flavour.style, settings.channel, settings.notify_hosts
    )
    wallet = Wallet(
        flavour,
        WalletStore(),
        Dice(settings.seed),
        notifier,
        Faults.from_settings(settings),
        settings.fee_bps,
    )
    app = web.Application(middlewares=[*tracing_middlewares(tracer_provider), wallet_api])
    app[STATE] = WalletState(
        settings=settings,
        flavour=flavour,
        wallet=wallet,
        nonces=NonceCache(),
        bills=Bills(flavour, settings.fee_bps),
    )

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await notifier.start()
        yield
        await wallet.close_tasks()
        await notifier.close()

    app.cleanup_ctx.append(lifecycle)
    app[SETTLER] = Settler(
        wallet.store,
        settings.merchant_id,
        settings.channel,
        settings.bank_url,
        lambda: app[STATE].wallet.faults.settle_delay_ms,
        settings.settle_check_seconds,
    )
    app.cleanup_ctx.append(app[SETTLER].lifecycle)
    app.add_routes(
        [
            *flavour.routes(),
            web.get("/healthz", admin.healthz),
            web.get("/_admin/faults", admin.get_faults),
            web.post("/_admin/faults", admin.set_faults),
            web.get("/_admin/transactions", admin.list_transactions),
            web.post("/_admin/transactions/{out_trade_no}/decide", admin.decide),
            web.get("/_admin/notifications", admin.list_notifications),
            *bill_fault_routes(lambda app: app[STATE].bills),
            web.get("/_admin/settlements", settlement_api.list_settlements),
            web.post("/_admin/settlements/{day}", settlement_api.settle_now),
        ]
    )
    return app
