"""The bank's signed four-element verification API: POST /api/auth/verify4."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from channelsim.banktime import from_epoch
from channelsim.protocol import (
    MCH_NOT_EXIST,
    PARAM_ERROR,
    RATE_LIMITED,
    REQ_NO_CONFLICT,
    SYSTEM_ERROR,
    IdCheckRequest,
    VerifyRequest,
)
from channelsim.responses import error_response, json_response, parse_body
from channelsim.state import STATE
from channelsim.verification import check_identity, decide
from channelsim.verifylog import Answered, card_key, request_digest

_log = logging.getLogger(__name__)


async def verify4(request: web.Request) -> web.Response:
    """Verifies name, ID number, card number and mobile once per req_no; repeats get the answer.

    Only req_no and the result are ever logged: the elements are PII.
    """
    parsed = await parse_body(request, VerifyRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mobile is None:
        return error_response(400, PARAM_ERROR, "mobile: field required")
    return await _verify(request, parsed)


async def verify3(request: web.Request) -> web.Response:
    """Three elements: the same bank check with no mobile to compare and no agreement."""
    parsed = await parse_body(request, VerifyRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mobile is not None:
        return error_response(400, PARAM_ERROR, "verify3 takes no mobile")
    return await _verify(request, parsed)


async def _verify(request: web.Request, parsed: VerifyRequest) -> web.Response:
    state = request.app[STATE]
    if parsed.mch_id != state.settings.merchant_id:
        return error_response(400, MCH_NOT_EXIST, "merchant does not exist")
    log = state.verifications
    if state.dice.roll(state.faults.verify_error_rate):
        log.saw(parsed.req_no, SYSTEM_ERROR)
        _log.info("injected verify error", extra={"req_no": parsed.req_no})
        return error_response(503, SYSTEM_ERROR, "system busy, try again later")
    secret = state.settings.secret_bytes
    digest = request_digest(secret, parsed)
    # No await from here on: concurrent repeats of a req_no cannot both verify.
    previous = log.get(parsed.req_no)
    if previous is not None:
        if previous.digest != digest:
            log.saw(parsed.req_no, REQ_NO_CONFLICT)
            _log.warning("verify conflict", extra={"req_no": parsed.req_no})
            return error_response(409, REQ_NO_CONFLICT, "req_no already used with another body")
        log.saw(parsed.req_no, str(previous.answer["result"]))
        _log.info(
            "verify repeated",
            extra={"req_no": parsed.req_no, "result": previous.answer["result"]},
        )
        return json_response(previous.answer)
    now = time.time()
    if not state.limiter.allow(card_key(secret, parsed.card_no), now):
        log.saw(parsed.req_no, RATE_LIMITED)
        _log.info("verify rate limited", extra={"req_no": parsed.req_no})
        return error_response(429, RATE_LIMITED, "too many verifications of this card")
    verdict = decide(parsed, state.cardholders, secret)
    answer = verdict.answer(log.new_verify_no(from_epoch(now), state.dice.digits))
    log.remember(parsed.req_no, Answered(digest, answer))
    log.saw(parsed.req_no, verdict.result)
    _log.info("verify answered", extra={"req_no": parsed.req_no, "result": verdict.result})
    return json_response(answer)


async def idcheck(request: web.Request) -> web.Response:
    """Name and ID number against the citizen register (the bank's cardholders stand in)."""
    state = request.app[STATE]
    parsed = await parse_body(request, IdCheckRequest)
    if isinstance(parsed, web.Response):
        return parsed
    if parsed.mch_id != state.settings.merchant_id:
        return error_response(400, MCH_NOT_EXIST, "merchant does not exist")
    now = time.time()
    verdict = check_identity(parsed.name, parsed.id_no, state.cardholders)
    answer = verdict.answer(state.verifications.new_verify_no(from_epoch(now), state.dice.digits))
    state.verifications.saw(parsed.req_no, verdict.result)
    _log.info("idcheck answered", extra={"req_no": parsed.req_no, "result": verdict.result})
    return json_response(answer)
