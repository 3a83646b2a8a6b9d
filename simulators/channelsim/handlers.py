"""The bank's signed API: quick-pay, order query and the daily statement download."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from aiohttp import web

from channelsim.banktime import parse_date
from channelsim.payments import authorise
from channelsim.protocol import (
    MCH_NOT_EXIST,
    ORDER_CONFLICT,
    ORDER_NOT_EXIST,
    PARAM_ERROR,
    STATEMENT_NOT_READY,
    PayRequest,
    QueryRequest,
    answer,
)
from channelsim.responses import error_response, json_response, logged_answer, parse_body
from channelsim.state import STATE
from channelsim.statement import BankBook, render_statement
from channelsim.store import FAIL, SUCCESS
from channelsim.unionpay_zm import file_name, render_zm

_log = logging.getLogger(__name__)


def _unknown_merchant() -> web.Response:
    return error_response(400, MCH_NOT_EXIST, "merchant does not exist")


async def pay(request: web.Request) -> web.Response:
    """Charges an agreement once per out_trade_no; repeats get the original answer."""
    state = request.app[STATE]
    parsed = await parse_body(request, PayRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return _unknown_merchant()
    faults = state.faults
    existing = state.store.get(parsed.out_trade_no)
    if existing is None:
        # No await between the lookup and add: concurrent repeats cannot charge twice.
        transaction = authorise(
            parsed,
            fee_bps=state.settings.fee_bps,
            faults=faults,
            dice=state.dice,
            store=state.store,
            now=time.time(),
        )
        answered = transaction
        if transaction.status == SUCCESS and state.dice.roll(faults.false_success_rate):
            # The bank says yes, but its books say the debit failed (短款 for the platform).
            transaction = replace(
                transaction,
                status=FAIL,
                err_code="DEBIT_FAILED",
                err_msg="debit failed after approval",
            )
        state.store.add(transaction)
        event = "pay processed"
    elif existing.amount != parsed.amount or existing.currency != parsed.currency:
        _log.warning(
            "pay conflict", extra={"out_trade_no": parsed.out_trade_no, "amount": parsed.amount}
        )
        return error_response(409, ORDER_CONFLICT, "out_trade_no already used with another amount")
    else:
        transaction = answered = existing
        event = "pay repeated"
    late = faults.timeout_sleep_ms if state.dice.roll(faults.timeout_rate) else 0
    ids = {"out_trade_no": transaction.out_trade_no}
    return await logged_answer(event, answer(answered, time.time()), ids, late_ms=late)


async def query(request: web.Request) -> web.Response:
    """The current state of an order, or ORDER_NOT_EXIST."""
    state = request.app[STATE]
    parsed = await parse_body(request, QueryRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return _unknown_merchant()
    transaction = state.store.get(parsed.out_trade_no)
    if transaction is None:
        return json_response({"code": ORDER_NOT_EXIST, "out_trade_no": parsed.out_trade_no})
    return json_response(answer(transaction, time.time()))


async def statement(request: web.Request) -> web.Response:
    """GET /api/statements/{date}?mch_id=...: the day's bill (charges and refunds), UnionPay's
    zipped ZM file or the CSV as the settings say; STATEMENT_NOT_READY while a late bill is
    held back."""
    state = request.app[STATE]
    try:
        day = parse_date(request.match_info["date"])
    except ValueError:
        return error_response(400, PARAM_ERROR, "date must be YYYY-MM-DD")
    mch_id = request.query.get("mch_id", "")
    if not mch_id:
        return error_response(400, PARAM_ERROR, "mch_id is required")
    if mch_id != state.settings.merchant_id:
        return _unknown_merchant()
    now = time.time()
    if not state.bills.ready(day, now):
        return error_response(404, STATEMENT_NOT_READY, "the day's statement is not ready yet")
    settings = state.settings
    book = BankBook(state.store.all(), state.refunds.all(), mch_id, settings.fee_bps)
    faults = state.bills.faults(day)
    if settings.bill_format == "unionpay-zm":
        body = render_zm(
            book, day=day, now=now, faults=faults, short_name=settings.merchant_short_name
        )
        disposition = f'attachment; filename="{file_name(day, mch_id)}"'
        return web.Response(
            body=body, content_type="application/zip", headers={"Content-Disposition": disposition}
        )
    text = render_statement(book, channel=settings.channel, day=day, now=now, faults=faults)
    return web.Response(body=text.encode(), content_type="text/csv", charset="utf-8")
