"""Builds the simulator's aiohttp application: state, middlewares and routes."""

from __future__ import annotations

import logging
from dataclasses import fields

from aiohttp import web
from opentelemetry.trace import TracerProvider

from channelsim import admin, handlers, payout_api, refund_api, reserve_api, verify_api
from channelsim.bill_admin import bill_fault_routes
from channelsim.cardholders import CardholderRegistry
from channelsim.faults import Dice, Faults
from channelsim.journal import Journal
from channelsim.middleware import bank_api
from channelsim.payouts import PayoutBook
from channelsim.ratelimit import RollingLimiter
from channelsim.refunds import RefundBook
from channelsim.reserve import ReserveAccount
from channelsim.settings import ChannelSimSettings
from channelsim.state import STATE, ChannelState
from channelsim.store import TransactionStore
from channelsim.tracing import tracing_middlewares
from channelsim.verifylog import VerificationLog
from paysuite.http_signing import NonceCache

_log = logging.getLogger(__name__)

VERIFY_WINDOW_SECONDS = 60.0


def _faults(settings: ChannelSimSettings) -> Faults:
    """The fault knobs as the settings dial them at start (every knob is a setting too)."""
    return Faults(**{knob.name: getattr(settings, knob.name) for knob in fields(Faults)})


def create_app(
    settings: ChannelSimSettings, *, tracer_provider: TracerProvider | None = None
) -> web.Application:
    """A ready-to-run bank; transactions and payouts from settings.state_file are loaded now.

    Registered cardholders live in memory only: they are PII and never reach the state file.
    """
    journal = Journal(settings.state_file)
    records = list(journal.read())
    store = TransactionStore(journal)
    payouts = PayoutBook(journal)
    refunds = RefundBook(journal)
    loaded = store.load(records)
    restored = payouts.load(records)
    refunds.load(records)
    reserve = ReserveAccount(journal, opening=settings.reserve_opening_fen)
    reserve.load(records)
    if loaded or restored:
        _log.info("state restored", extra={"transactions": loaded, "payouts": restored})
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
        payouts=payouts,
        reserve=reserve,
        refunds=refunds,
    )

    async def close_store(_: web.Application) -> None:
        journal.close()

    app.on_cleanup.append(close_store)
    app.add_routes(
        [
            web.post("/api/quickpay/pay", handlers.pay),
            web.post("/api/quickpay/query", handlers.query),
            web.post("/api/quickpay/refund", refund_api.refund),
            web.get("/api/statements/{date}", handlers.statement),
            web.post("/api/payout/pay", payout_api.pay),
            web.post("/api/payout/query", payout_api.query),
            web.post("/api/payout/returns", payout_api.returns),
            web.get("/api/accounts/{account_no}/statements/{date}", reserve_api.statement),
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
            web.get("/_admin/payouts", payout_api.list_payouts),
            web.post("/_admin/payouts/{out_payout_no}/return", payout_api.return_payout),
            web.get("/_admin/reserve", reserve_api.overview),
            web.post("/_admin/reserve/settlements", reserve_api.pay_in),
            web.post("/_admin/reserve/fundings", reserve_api.fund_in),
            *bill_fault_routes(lambda app: app[STATE].bills),
        ]
    )
    return app
