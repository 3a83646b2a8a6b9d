"""The signed API gate (faults, signatures, replays) and JSON helpers shared by both flavours."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from paysuite.http_signing import REPLAYED, SignatureError, new_nonce, sign, verify
from walletsim.state import STATE, WalletState

_log = logging.getLogger(__name__)

_UNSIGNED_PREFIXES = ("/_admin/", "/healthz")


def json_response(payload: dict[str, Any] | list[Any], status: int = 200) -> web.Response:
    """A response whose body is already bytes, so it can be signed as sent."""
    body = orjson.dumps(payload)
    return web.Response(body=body, status=status, content_type="application/json")


def _signed(state: WalletState, response: web.Response) -> web.Response:
    body = response.body
    if body is None:
        body = b""
    if not isinstance(body, bytes):
        raise TypeError("wallet API handlers must answer with a bytes body")
    header = sign(state.settings.secret_bytes, body, now=int(time.time()), nonce=new_nonce())
    response.headers[state.flavour.style.signature_header] = header
    return response


def _authenticate(state: WalletState, body: bytes, header: str) -> web.Response | None:
    """None if the request is signed, fresh and not replayed, else the rejection to send."""
    now = int(time.time())
    try:
        timestamp, nonce = verify(state.settings.secret_bytes, body, header, now=now)
    except SignatureError as exc:
        return state.flavour.signature_error(exc.code)
    if not state.nonces.check_and_add(nonce, timestamp=timestamp, now=now):
        return state.flavour.signature_error(REPLAYED)
    return None


@web.middleware
async def wallet_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Applies latency, injected errors and signatures to the API; admin routes pass through,
    and a bill file's download is answered unsigned (its request signed where the wallet wants
    it so)."""
    if request.path.startswith(_UNSIGNED_PREFIXES):
        return await handler(request)
    state = request.app[STATE]
    faults = state.wallet.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if state.wallet.dice.roll(faults.error_rate):
        _log.info("injected error", extra={"path": request.path})
        return _signed(state, state.flavour.system_error())
    file_download = request.path == state.flavour.bill_file_path
    if not file_download or state.flavour.bill_file_signed:
        body = await request.read()
        header = request.headers.get(state.flavour.style.signature_header, "")
        rejection = _authenticate(state, body, header)
        if rejection is not None:
            _log.warning("rejected request", extra={"path": request.path})
            return _signed(state, rejection)
    response = await handler(request)
    if file_download:  # a file server's answer: unsigned (the bill request named its hash)
        return response
    if not isinstance(response, web.Response):
        raise TypeError("wallet API handlers must return web.Response")
    return _signed(state, response)


async def maybe_time_out(state: WalletState, out_trade_no: str) -> None:
    """The injected timeout: the order is taken, the answer comes too late."""
    faults = state.wallet.faults
    if state.wallet.dice.roll(faults.timeout_rate):
        _log.info(
            "injected timeout",
            extra={"out_trade_no": out_trade_no, "sleep_ms": faults.timeout_sleep_ms},
        )
        await asyncio.sleep(faults.timeout_sleep_ms / 1000)
