"""Unsigned test-only endpoints for a date's bill faults: late, lines left out or added."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from pydantic import ValidationError

from channelsim.banktime import parse_date
from channelsim.protocol import describe
from walletsim.api import json_response
from walletsim.bills import BillFaultsUpdate
from walletsim.state import STATE

_log = logging.getLogger(__name__)


def _bad_request(message: str) -> web.Response:
    return json_response({"code": "PARAM_ERROR", "message": message}, status=400)


async def get_bill_faults(request: web.Request) -> web.Response:
    """GET /_admin/bills/{day}: the date's bill faults and whether it is available now."""
    try:
        day = parse_date(request.match_info["day"])
    except ValueError as exc:
        return _bad_request(str(exc))
    return json_response(request.app[STATE].bills.faults(day).view(time.time()))


async def set_bill_faults(request: web.Request) -> web.Response:
    """POST /_admin/bills/{day}/faults: changes the named faults of the date's bill."""
    bills = request.app[STATE].bills
    try:
        day = parse_date(request.match_info["day"])
        update = BillFaultsUpdate.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(describe(exc))
    except ValueError as exc:
        return _bad_request(str(exc))
    now = time.time()
    faults = bills.change(day, update, now)
    _log.info("bill faults changed", extra={"bill_date": day.isoformat(), **faults.view(now)})
    return json_response(faults.view(now))


async def correct_bill(request: web.Request) -> web.Response:
    """POST /_admin/bills/{day}/correct: the date's bill is sent again with every line."""
    try:
        day = parse_date(request.match_info["day"])
    except ValueError as exc:
        return _bad_request(str(exc))
    faults = request.app[STATE].bills.correct(day)
    _log.info("bill corrected", extra={"bill_date": day.isoformat(), "version": faults.version})
    return json_response(faults.view(time.time()))
