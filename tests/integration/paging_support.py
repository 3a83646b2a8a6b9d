"""Checks shared by the list RPCs' paging tests: refused page tokens."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
import pytest

from paysuite.runtime.grpc_errors import field_violations


async def refused_page_token(call: Awaitable[object]) -> str:
    """The description of the page_token violation the call was refused with."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    [(field, description)] = field_violations(caught.value)
    assert field == "page_token"
    return description


def tampered(token: str) -> str:
    """The token with one character of its position changed."""
    flipped = "A" if token[3] != "A" else "B"
    return token[:3] + flipped + token[4:]
