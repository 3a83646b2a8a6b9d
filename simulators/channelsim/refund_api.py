"""The bank's signed refund API: POST /api/quickpay/refund."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from channelsim.banktime import from_epoch
from channelsim.protocol import MCH_NOT_EXIST, ORDER_CONFLICT, RefundRequest
from channelsim.refunds import RefundRecord
from channelsim.responses import error_response, json_response, parse_body
from channelsim.state import STATE

_log = logging.getLogger(__name__)


async def refund(request: web.Request) -> web.Response:
    """Refunds a paid order up to its amount; a repeated out_refund_no gets its first answer."""
    state = request.app[STATE]
    parsed = await parse_body(request, RefundRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return error_response(400, MCH_NOT_EXIST, "merchant does not exist")
    book = state.refunds
    previous = book.get(parsed.out_refund_no)
    if previous is not None:
        if (previous.out_trade_no, previous.amount) != (parsed.out_trade_no, parsed.amount):
            return error_response(409, ORDER_CONFLICT, "out_refund_no already used otherwise")
        return json_response(previous.answer())
    order = state.store.get(parsed.out_trade_no)
    now = time.time()
    refund_no = "R" + state.store.new_trade_no(from_epoch(now), state.dice.digits)[1:]
    if order is None or order.status_at(now) != "SUCCESS":
        record = RefundRecord(
            parsed.out_refund_no,
            parsed.out_trade_no,
            parsed.amount,
            refund_no,
            "FAIL",
            "ORDER_NOT_PAID",
            now,
        )
    elif book.refunded(parsed.out_trade_no) + parsed.amount > order.amount:
        record = RefundRecord(
            parsed.out_refund_no,
            parsed.out_trade_no,
            parsed.amount,
            refund_no,
            "FAIL",
            "REFUND_EXCEEDS_AMOUNT",
            now,
        )
    else:
        record = RefundRecord(
            parsed.out_refund_no, parsed.out_trade_no, parsed.amount, refund_no, "SUCCESS", "", now
        )
    book.add(record)
    _log.info(
        "refund answered",
        extra={"out_refund_no": parsed.out_refund_no, "code": record.code, "amount": parsed.amount},
    )
    return json_response(record.answer())
