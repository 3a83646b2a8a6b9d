"""JSON response helpers and body parsing with the bank's PARAM_ERROR answers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from channelsim.protocol import PARAM_ERROR, describe

M = TypeVar("M", bound=BaseModel)

_log = logging.getLogger(__name__)


def json_response(payload: dict[str, Any] | list[Any], status: int = 200) -> web.Response:
    """A response whose body is already bytes, so it can be signed as sent."""
    body = orjson.dumps(payload)
    return web.Response(body=body, status=status, content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    return json_response({"code": code, "message": message}, status=status)


async def parse_body(request: web.Request, model: type[M]) -> M | web.Response:
    """The request body validated as model, or a 400 PARAM_ERROR response."""
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        return error_response(400, PARAM_ERROR, describe(exc))


async def logged_answer(
    event: str, result: dict[str, Any], ids: dict[str, Any], *, late_ms: int = 0
) -> web.Response:
    """Logs the answer (its ids, code and amount: never card or account numbers) and sends it;
    with late_ms, only after that long (an injected timeout: decided and kept at the bank, the
    caller's wait runs out first)."""
    _log.info(event, extra={**ids, "code": result["code"], "amount": result.get("amount")})
    if late_ms:
        _log.info("injected timeout", extra={**ids, "sleep_ms": late_ms})
        await asyncio.sleep(late_ms / 1000)
    return json_response(result)
