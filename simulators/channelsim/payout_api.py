"""The bank's signed payout API (代付): pay out, query, the day's returns; and its admin side."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from pydantic import ValidationError

from channelsim.banktime import from_epoch, parse_date
from channelsim.payouts import NotReturnable, Payee, PayoutOrder, decide
from channelsim.protocol import (
    MCH_NOT_EXIST,
    ORDER_CONFLICT,
    ORDER_NOT_EXIST,
    PARAM_ERROR,
    PayoutQueryRequest,
    PayoutRequest,
    PayoutReturnsRequest,
    ReturnPayoutRequest,
    describe,
)
from channelsim.responses import error_response, json_response, logged_answer, parse_body
from channelsim.state import STATE, ChannelState

_log = logging.getLogger(__name__)

NOT_RETURNABLE = "NOT_RETURNABLE"


def _unknown_merchant() -> web.Response:
    return error_response(400, MCH_NOT_EXIST, "merchant does not exist")


def _payee(request: PayoutRequest) -> Payee | None:
    """A card bound here, or an account with its holder's name: one of the two, not both."""
    if request.agreement_no is not None:
        if request.account_no is not None or request.account_name is not None:
            return None
        return Payee(agreement_no=request.agreement_no)
    if request.account_no is None or request.account_name is None:
        return None
    return Payee(account_no=request.account_no, account_name=request.account_name)


async def pay(request: web.Request) -> web.Response:
    """Pays out once per out_payout_no; a repeat gets the payout as it stands, another payout
    under the same number is a conflict. Payee numbers are never logged."""
    state = request.app[STATE]
    parsed = await parse_body(request, PayoutRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return _unknown_merchant()
    payee = _payee(parsed)
    if payee is None:
        return error_response(
            400, PARAM_ERROR, "give agreement_no, or account_no with account_name"
        )
    book, faults, secret = state.payouts, state.faults, state.settings.secret_bytes
    now = time.time()
    # No await between the lookup and add: concurrent repeats cannot pay twice.
    existing = book.get(parsed.out_payout_no)
    if existing is None:
        order = PayoutOrder(
            parsed.out_payout_no, parsed.mch_id, parsed.amount, parsed.currency, payee
        )
        payout = decide(
            order,
            payout_no=book.new_payout_no(from_epoch(now), state.dice.digits),
            fee=state.settings.payout_fee_fen,
            secret=secret,
            faults=faults,
            dice=state.dice,
            now=now,
        )
        book.add(payout)
        event = "payout processed"
    elif (existing.amount, existing.currency, existing.payee_digest) != (
        parsed.amount,
        parsed.currency,
        payee.digest(secret),
    ):
        _log.warning("payout conflict", extra={"out_payout_no": parsed.out_payout_no})
        return error_response(409, ORDER_CONFLICT, "out_payout_no already used otherwise")
    else:
        payout = existing
        event = "payout repeated"
    late = faults.timeout_sleep_ms if state.dice.roll(faults.payout_timeout_rate) else 0
    ids = {"out_payout_no": payout.out_payout_no}
    return await logged_answer(event, payout.answer(time.time()), ids, late_ms=late)


async def query(request: web.Request) -> web.Response:
    """The payout as it stands now (RETURNED once it came back), or ORDER_NOT_EXIST."""
    state = request.app[STATE]
    parsed = await parse_body(request, PayoutQueryRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return _unknown_merchant()
    payout = state.payouts.get(parsed.out_payout_no)
    if payout is None:
        return json_response({"code": ORDER_NOT_EXIST, "out_payout_no": parsed.out_payout_no})
    return json_response(payout.answer(time.time()))


async def returns(request: web.Request) -> web.Response:
    """The payouts that came back on a bank date (the day's 退票), as query would show each."""
    state = request.app[STATE]
    parsed = await parse_body(request, PayoutReturnsRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return _unknown_merchant()
    try:
        day = parse_date(parsed.date)
    except ValueError:
        return error_response(400, PARAM_ERROR, "date must be YYYY-MM-DD")
    now = time.time()
    returned = state.payouts.returned_on(parsed.mch_id, day, now)
    return json_response(
        {"code": "SUCCESS", "date": parsed.date, "returns": [p.answer(now) for p in returned]}
    )


def _view(state: ChannelState, now: float) -> list[dict[str, object]]:
    return [{**p.answer(now), "mch_id": p.mch_id, "payee": p.payee} for p in state.payouts.all()]


async def list_payouts(request: web.Request) -> web.Response:
    """Unsigned, test-only: every payout the bank made or refused, as it stands now."""
    return json_response(_view(request.app[STATE], time.time()))


async def return_payout(request: web.Request) -> web.Response:
    """Unsigned, test-only: the payee's bank sends a paid payout back now (退票); the body,
    {"reason": "..."}, is optional."""
    state = request.app[STATE]
    try:
        body = ReturnPayoutRequest.model_validate_json(await request.read() or b"{}")
    except ValidationError as exc:
        return error_response(400, PARAM_ERROR, describe(exc))
    out_payout_no = request.match_info["out_payout_no"]
    now = time.time()
    try:
        payout = state.payouts.mark_returned(out_payout_no, body.reason, now)
    except NotReturnable:
        return error_response(409, NOT_RETURNABLE, "only a paid payout can be returned")
    _log.info("payout returned", extra={"out_payout_no": out_payout_no, "reason": body.reason})
    return json_response(payout.answer(now))
