"""Unsigned test-only endpoints: health, faults, transactions, notifications, a forced decision."""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from channelsim.protocol import describe
from walletsim.api import json_response
from walletsim.faults import FaultsUpdate
from walletsim.state import STATE
from walletsim.store import CLOSED, FAILED, SUCCESS, NotifyPlan

_log = logging.getLogger(__name__)


class Decision(BaseModel):
    """POST /_admin/transactions/{out_trade_no}/decide: what the wallet says now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["success", "failed", "closed"]


_STATUSES = {"success": SUCCESS, "failed": FAILED, "closed": CLOSED}


def _bad_request(exc: ValidationError) -> web.Response:
    return json_response({"code": "PARAM_ERROR", "message": describe(exc)}, status=400)


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].wallet.faults.as_dict())


async def set_faults(request: web.Request) -> web.Response:
    """Changes the named fault knobs and answers with all of them."""
    wallet = request.app[STATE].wallet
    try:
        update = FaultsUpdate.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    wallet.faults = update.apply(wallet.faults)
    _log.info("faults changed", extra={"faults": wallet.faults.as_dict()})
    return json_response(wallet.faults.as_dict())


async def list_transactions(request: web.Request) -> web.Response:
    """Every trade with the wallet's status word and its refunds; no buyer data."""
    state = request.app[STATE]
    store = state.wallet.store
    views: list[dict[str, Any]] = []
    for trade in sorted(store.trades.values(), key=lambda t: (t.created_at, t.trade_no)):
        views.append(
            {
                **trade.view(),
                "trade_status": state.flavour.status_word(trade),
                "refunds": [r.view() for r in store.refunds_of(trade.out_trade_no)],
            }
        )
    return json_response(views)


async def list_notifications(request: web.Request) -> web.Response:
    """Every notification sent, dropped or given up, oldest first, with its attempts."""
    deliveries = request.app[STATE].wallet.notifier.deliveries
    return json_response([d.view() for d in deliveries])


async def decide(request: web.Request) -> web.Response:
    """Makes the wallet state a trade's status now (even a changed mind) and notify it at once."""
    wallet = request.app[STATE].wallet
    trade = wallet.store.trades.get(request.match_info["out_trade_no"])
    if trade is None:
        return json_response({"code": "ORDER_NOT_EXIST", "message": "no such trade"}, status=404)
    try:
        decision = Decision.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(exc)
    wallet.decide(trade, _STATUSES[decision.status], time.time(), plan=NotifyPlan())
    return json_response(trade.view())
