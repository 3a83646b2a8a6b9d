"""The reserve account's signed statement download (camt.053) and its admin side: a channel's
settlement paid in now, the platform's own funds moved in, the settlements so far and the
balance."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from channelsim.banktime import from_epoch, parse_date, parse_trade_time
from channelsim.camt053 import StatementHeader, render_camt053
from channelsim.protocol import MAX_AMOUNT_FEN, PARAM_ERROR
from channelsim.reserve import Settlement, acquirer_takings, settle_due_at
from channelsim.responses import error_response, json_response, parse_body
from channelsim.state import STATE, ChannelState

_log = logging.getLogger(__name__)

ACCOUNT_NOT_EXIST = "ACCOUNT_NOT_EXIST"
CURRENCY = "CNY"


class SettlementRequest(BaseModel):
    """POST /_admin/reserve/settlements: a channel pays a business date's settlement in, now or
    at `booking_time` ("YYYY-MM-DD HH:MM:SS", Shanghai: it shows from then on). Without an
    amount, this bank's own takings of the date (it is the card acquirer)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    business_date: Annotated[StrictStr, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    channel: Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]{1,32}$")] | None = None
    amount: Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_FEN)] | None = None
    payer: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    booking_time: StrictStr | None = None


class FundingRequest(BaseModel):
    """POST /_admin/reserve/fundings: the platform moves its own funds into the reserve account
    (e.g. the coupons it paid for, under `CPN-<currency>-<YYYYMMDD>`), booked now."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    reference: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,35}$")]
    amount: Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_FEN)]
    currency: Literal["CNY"] = "CNY"


def _takings(state: ChannelState, day: date, now: float) -> int:
    return acquirer_takings(
        state.store.all(),
        state.refunds.all(),
        mch_id=state.settings.merchant_id,
        day=day,
        now=now,
    )


def _settle(
    state: ChannelState, channel: str, day: date, amount: int, payer: str, at: float
) -> Settlement:
    return state.reserve.settle(
        channel=channel,
        business_date=day,
        currency=CURRENCY,
        amount=amount,
        payer=payer,
        booked_at=at,
        faults=state.faults,
        dice=state.dice,
    )


def settle_due(state: ChannelState, now: float) -> None:
    """The bank's own settlements as acquirer that are due by now: each day with takings,
    reserve_settle_delay_ms after it ends, decided once."""
    delay = state.faults.reserve_settle_delay_ms
    days = {t.trade_time.date() for t in state.store.all()}
    days |= {from_epoch(r.refunded_at).date() for r in state.refunds.all()}
    channel = state.settings.channel
    for day in sorted(days):
        due = settle_due_at(day, delay)
        if due > now or state.reserve.get(channel, day) is not None:
            continue
        takings = _takings(state, day, now)
        if takings > 0:
            _settle(state, channel, day, takings, state.settings.bank_name, due)


async def statement(request: web.Request) -> web.Response:
    """GET /api/accounts/{account_no}/statements/{date}: the account's camt.053 of a day (so
    far, for today)."""
    state = request.app[STATE]
    try:
        day = parse_date(request.match_info["date"])
    except ValueError:
        return error_response(400, PARAM_ERROR, "date must be YYYY-MM-DD")
    settings = state.settings
    if request.match_info["account_no"] != settings.reserve_account_no:
        return error_response(404, ACCOUNT_NOT_EXIST, "no such account")
    now = time.time()
    settle_due(state, now)
    opening, entries = state.reserve.day(state.payouts.all(), day, now)
    header = StatementHeader(
        account_no=settings.reserve_account_no,
        owner=settings.reserve_account_owner,
        bank_name=settings.bank_name,
        bic=settings.bank_bic,
        currency=CURRENCY,
        day=day,
        created_at=now,
    )
    body = render_camt053(header, opening, entries)
    _log.info("reserve statement", extra={"date": day.isoformat(), "entries": len(entries)})
    return web.Response(body=body, content_type="application/xml", charset="utf-8")


async def pay_in(request: web.Request) -> web.Response:
    """Unsigned, test-only: a channel's settlement of a date arrives (now, or when it says; short
    or never as dialled); once per channel and date, a repeat answers the settlement decided
    before."""
    state = request.app[STATE]
    body = await parse_body(request, SettlementRequest)
    if isinstance(body, web.Response):
        return body
    now = time.time()
    try:
        day = parse_date(body.business_date)
        at = now if body.booking_time is None else parse_trade_time(body.booking_time).timestamp()
    except ValueError:
        return error_response(
            400, PARAM_ERROR, "business_date is YYYY-MM-DD, booking_time YYYY-MM-DD HH:MM:SS"
        )
    channel = body.channel or state.settings.channel
    amount = body.amount
    if amount is None:
        if channel != state.settings.channel:
            return error_response(400, PARAM_ERROR, "amount is required for another channel")
        amount = _takings(state, day, now)
        if amount <= 0:
            return error_response(409, "NOTHING_TO_SETTLE", "no takings on that date")
    existing = state.reserve.get(channel, day)
    settlement = _settle(state, channel, day, amount, body.payer or channel, at)
    return json_response(settlement.view(), status=200 if existing else 201)


async def fund_in(request: web.Request) -> web.Response:
    """Unsigned, test-only: a transfer from the platform's own account into the reserve
    account, booked now; once per reference, a repeat answers the one booked before."""
    state = request.app[STATE]
    body = await parse_body(request, FundingRequest)
    if isinstance(body, web.Response):
        return body
    funding, new = state.reserve.fund(
        reference=body.reference,
        currency=body.currency,
        amount=body.amount,
        payer=state.settings.reserve_account_owner,
        booked_at=time.time(),
        dice=state.dice,
    )
    return json_response(funding.view(), status=201 if new else 200)


async def overview(request: web.Request) -> web.Response:
    """Unsigned, test-only: the settlements decided so far and the balance now."""
    state = request.app[STATE]
    now = time.time()
    settle_due(state, now)
    tomorrow = from_epoch(now).date() + timedelta(days=1)
    balance, _ = state.reserve.day(state.payouts.all(), tomorrow, now)
    return json_response(
        {
            "account_no": state.settings.reserve_account_no,
            "currency": CURRENCY,
            "balance": balance,
            "settlements": [s.view() for s in state.reserve.settlements()],
            "fundings": [f.view() for f in state.reserve.fundings()],
        }
    )
