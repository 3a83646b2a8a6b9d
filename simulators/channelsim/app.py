"""Builds the simulator's aiohttp application: state, middlewares and routes."""

from __future__ import annotations

import logging

from aiohttp import web
from opentelemetry.trace import TracerProvider

from channelsim import admin, handlers, refund_api, verify_api
from channelsim.cardholders import CardholderRegistry
from channelsim.faults import Dice, Faults
from channelsim.middleware import bank_api
from channelsim.ratelimit import RollingLimiter
from channelsim.settings import ChannelSimSettings
from channelsim.state import STATE, ChannelState
from channelsim.store import TransactionStore
from channelsim.tracing import tracing_middlewares
from channelsim.verifylog import VerificationLog
from paysuite.http_signing import NonceCache

_log = logging.getLogger(__name__)

VERIFY_WINDOW_SECONDS = 60.0


def _faults(settings: ChannelSimSettings) -> Faults:
    return Faults(
        latency_ms=settings.latency_ms,
        decline_rate=settings.decline_rate,
        timeout_rate=settings.timeout_rate,
        timeout_sleep_ms=settings.timeout_sleep_ms,
        error_rate=settings.error_rate,
        processing_rate=settings.processing_rate,
        processing_ms=settings.processing_ms,
        verify_error_rate=settings.verify_error_rate,
        false_success_rate=settings.false_success_rate,
    )


def create_app(
    settings: ChannelSimSettings, *, tracer_provider: TracerProvider | None = None
) -> web.Application:
    """A ready-to-run bank; transactions from settings.state_file are loaded now.

    Registered cardholders live in memory only: they are PII and never reach the state file.
    """
    store = TransactionStore(settings.state_file)
    loaded = store.load()
    if loaded:
        _log.info("transactions restored", extra={"count": loaded})
    app = web.Application(middlewares=[*tracing_middlewares(tracer_provider), bank_api])
    app[STATE] = ChannelState(
        settings=settings,
        store=store,
        faults=_faults(settings),
        dice=Dice(settings.seed),
        nonces=NonceCache(),
        cardholders=CardholderRegistry(),
        verifications=VerificationLog(),
        limiter=RollingLimiter(settings.verify_limit_per_card, VERIFY_WINDOW_SECONDS),
    )

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    app.add_routes(
        [
            web.post("/api/quickpay/pay", handlers.pay),
            web.post("/api/quickpay/query", handlers.query),
            web.post("/api/quickpay/refund", refund_api.refund),
            web.get("/api/statements/{date}", handlers.statement),
            web.post("/api/auth/verify4", verify_api.verify4),
            web.post("/api/auth/verify3", verify_api.verify3),
            web.post("/api/idcheck/verify2", verify_api.idcheck),
            web.get("/healthz", admin.healthz),
            web.get("/_admin/faults", admin.get_faults),
            web.post("/_admin/faults", admin.set_faults),
            web.get("/_admin/transactions", admin.list_transactions),
            web.post("/_admin/transactions", admin.inject_transaction),
            web.post("/_admin/cards", admin.register_cardholder),
            web.get("/_admin/verifications", admin.list_verifications),
        ]
    )
    return app
