"""Unsigned test-only endpoints for a date's bill faults (the bank's and the wallets'):
GET /_admin/bills/{day}, POST /_admin/bills/{day}/faults and /_admin/bills/{day}/correct."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

from aiohttp import web
from pydantic import ValidationError

from channelsim.banktime import parse_date
from channelsim.bill_faults import BillFaultBook, BillFaultsUpdate
from channelsim.protocol import PARAM_ERROR, describe
from channelsim.responses import error_response, json_response

_log = logging.getLogger(__name__)

BookOf = Callable[[web.Application], BillFaultBook]


def _day(request: web.Request) -> date:
    return parse_date(request.match_info["day"])


def bill_fault_routes(book_of: BookOf) -> list[web.RouteDef]:
    """The three bill-fault routes over the application's book of bill faults."""

    async def get_bill_faults(request: web.Request) -> web.Response:
        """The date's bill faults and whether it is available now."""
        try:
            day = _day(request)
        except ValueError as exc:
            return error_response(400, PARAM_ERROR, str(exc))
        return json_response(book_of(request.app).faults(day).view(time.time()))

    async def set_bill_faults(request: web.Request) -> web.Response:
        """Changes the named faults of the date's bill."""
        try:
            day = _day(request)
            update = BillFaultsUpdate.model_validate_json(await request.read())
        except ValidationError as exc:
            return error_response(400, PARAM_ERROR, describe(exc))
        except ValueError as exc:
            return error_response(400, PARAM_ERROR, str(exc))
        now = time.time()
        faults = book_of(request.app).change(day, update, now)
        _log.info("bill faults changed", extra={"bill_date": day.isoformat(), **faults.view(now)})
        return json_response(faults.view(now))

    async def correct_bill(request: web.Request) -> web.Response:
        """The date's bill is sent again with every line."""
        try:
            day = _day(request)
        except ValueError as exc:
            return error_response(400, PARAM_ERROR, str(exc))
        faults = book_of(request.app).correct(day)
        _log.info("bill corrected", extra={"bill_date": day.isoformat(), "version": faults.version})
        return json_response(faults.view(time.time()))

    return [
        web.get("/_admin/bills/{day}", get_bill_faults),
        web.post("/_admin/bills/{day}/faults", set_bill_faults),
        web.post("/_admin/bills/{day}/correct", correct_bill),
    ]
