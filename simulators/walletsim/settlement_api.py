"""Unsigned test-only endpoints of the wallet's settlements: a date settled now, rather than
after it ends (its delay dialled by settle_delay_ms), and the settlements paid in so far."""

from __future__ import annotations

import logging
import time

import aiohttp
from aiohttp import web

from channelsim.banktime import parse_date
from walletsim.api import json_response
from walletsim.settlement import SETTLER, NothingToSettle

_log = logging.getLogger(__name__)


async def settle_now(request: web.Request) -> web.Response:
    """POST /_admin/settlements/{day}: the date's takings paid into the reserve account now
    (201), or the settlement paid before (200); 409 when there is nothing to pay, 502 when the
    bank did not take it."""
    settler = request.app[SETTLER]
    try:
        day = parse_date(request.match_info["day"])
    except ValueError as exc:
        return json_response({"code": "PARAM_ERROR", "message": str(exc)}, status=400)
    before = day in settler.sent
    try:
        sent = await settler.settle(day, time.time())
    except NothingToSettle:
        return json_response({"code": "NOTHING_TO_SETTLE", "message": "no takings"}, status=409)
    except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
        _log.warning("settlement not taken by the bank", extra={"error": type(exc).__name__})
        return json_response({"code": "BANK_ERROR", "message": type(exc).__name__}, status=502)
    return json_response(sent.view(), status=200 if before else 201)


async def list_settlements(request: web.Request) -> web.Response:
    """GET /_admin/settlements: the dates settled so far, oldest first."""
    sent = request.app[SETTLER].sent
    return json_response([sent[day].view() for day in sorted(sent)])
