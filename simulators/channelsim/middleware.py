"""The /api/ gate: injected latency and errors, request signature checks, response signing."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from channelsim.protocol import SYSTEM_ERROR
from channelsim.responses import error_response
from channelsim.state import STATE, ChannelState
from paysuite.http_signing import (
    REPLAYED,
    SIGN_EXPIRED,
    SIGNATURE_HEADER,
    SignatureError,
    new_nonce,
    sign,
    verify,
)

_log = logging.getLogger(__name__)

API_PREFIX = "/api/"

_MESSAGES = {
    SIGN_EXPIRED: "signature timestamp outside the allowed window",
    REPLAYED: "nonce already used",
}
_DEFAULT_MESSAGE = "signature verification failed"


def _signed(state: ChannelState, response: web.Response) -> web.Response:
    body = response.body
    if not isinstance(body, bytes):
        raise TypeError("bank API handlers must answer with a bytes body")
    secret = state.settings.secret_bytes
    response.headers[SIGNATURE_HEADER] = sign(secret, body, now=int(time.time()), nonce=new_nonce())
    return response


def _authenticate(state: ChannelState, body: bytes, header: str) -> web.Response | None:
    """None if the request is signed, fresh and not replayed, else the 401 to send."""
    now = int(time.time())
    try:
        timestamp, nonce = verify(state.settings.secret_bytes, body, header, now=now)
    except SignatureError as exc:
        return error_response(401, exc.code, _MESSAGES.get(exc.code, _DEFAULT_MESSAGE))
    if not state.nonces.check_and_add(nonce, timestamp=timestamp, now=now):
        return error_response(401, REPLAYED, _MESSAGES[REPLAYED])
    return None


@web.middleware
async def bank_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Applies faults and signatures to /api/ routes; admin and health routes pass through."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    state = request.app[STATE]
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if state.dice.roll(faults.error_rate):
        _log.info("injected error", extra={"path": request.path})
        return _signed(state, error_response(503, SYSTEM_ERROR, "system busy, try again later"))
    body = await request.read()
    rejection = _authenticate(state, body, request.headers.get(SIGNATURE_HEADER, ""))
    if rejection is not None:
        _log.warning("rejected request", extra={"path": request.path})
        return _signed(state, rejection)
    response = await handler(request)
    if not isinstance(response, web.Response):
        raise TypeError("bank API handlers must return web.Response")
    return _signed(state, response)
