"""Unsigned test-only endpoints: health, faults, transactions, cardholders, verifications."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from channelsim.amounts import fee_for
from channelsim.banktime import from_epoch, parse_trade_time
from channelsim.cardholders import Cardholder
from channelsim.cards import luhn_valid
from channelsim.faults import FaultsUpdate
from channelsim.protocol import (
    ORDER_CONFLICT,
    PARAM_ERROR,
    CardholderRequest,
    InjectRequest,
    answer,
)
from channelsim.responses import error_response, json_response, parse_body
from channelsim.state import STATE, ChannelState
from channelsim.store import SUCCESS, DuplicateOrderError, Transaction

_log = logging.getLogger(__name__)


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].faults.as_dict())


async def set_faults(request: web.Request) -> web.Response:
    """Changes the named fault knobs and answers with all of them."""
    state = request.app[STATE]
    update = await parse_body(request, FaultsUpdate)
    if isinstance(update, web.Response):
        return update
    state.faults = update.apply(state.faults)
    _log.info("faults changed", extra={"faults": state.faults.as_dict()})
    return json_response(state.faults.as_dict())


def _view(transaction: Transaction, now: float) -> dict[str, Any]:
    return {**answer(transaction, now), "mch_id": transaction.mch_id}


async def list_transactions(request: web.Request) -> web.Response:
    now = time.time()
    return json_response([_view(t, now) for t in request.app[STATE].store.all()])


def _injected(state: ChannelState, body: InjectRequest, now: float) -> Transaction:
    moment = from_epoch(now) if body.trade_time is None else parse_trade_time(body.trade_time)
    return Transaction(
        out_trade_no=body.out_trade_no,
        trade_no=state.store.new_trade_no(moment, state.dice.digits),
        mch_id=body.mch_id or state.settings.merchant_id,
        amount=body.amount,
        currency=body.currency,
        fee=fee_for(body.amount, state.settings.fee_bps) if body.status == SUCCESS else 0,
        status=body.status,
        err_code="" if body.status == SUCCESS else "CARD_DECLINED",
        err_msg="" if body.status == SUCCESS else "card declined by issuer",
        trade_time=moment,
    )


async def inject_transaction(request: web.Request) -> web.Response:
    """Adds a transaction only the bank knows about (a "long" item for reconciliation)."""
    state = request.app[STATE]
    body = await parse_body(request, InjectRequest)
    if isinstance(body, web.Response):
        return body
    now = time.time()
    try:
        transaction = _injected(state, body, now)
    except ValueError:
        return error_response(400, PARAM_ERROR, "trade_time must be YYYY-MM-DD HH:MM:SS")
    try:
        state.store.add(transaction)
    except DuplicateOrderError:
        return error_response(409, ORDER_CONFLICT, "out_trade_no already exists")
    _log.info(
        "transaction injected",
        extra={
            "out_trade_no": transaction.out_trade_no,
            "code": transaction.status,
            "amount": transaction.amount,
        },
    )
    return json_response(_view(transaction, now), status=201)


async def register_cardholder(request: web.Request) -> web.Response:
    """Records who holds a Luhn-valid card, so verifications of it can match; logs no PII."""
    state = request.app[STATE]
    body = await parse_body(request, CardholderRequest)
    if isinstance(body, web.Response):
        return body
    if not luhn_valid(body.card_no):
        return error_response(400, PARAM_ERROR, "card_no fails the Luhn check")
    state.cardholders.register(
        body.card_no,
        Cardholder(name=body.name, id_no=body.id_no, mobile=body.mobile, bank_code=body.bank_code),
    )
    _log.info("cardholder registered", extra={"bank_code": body.bank_code})
    return json_response({"code": "SUCCESS", "bank_code": body.bank_code}, status=201)


async def list_verifications(request: web.Request) -> web.Response:
    """Every verify4 call the bank saw, oldest first: req_no and result only."""
    return json_response(request.app[STATE].verifications.audit())
