"""Answers a mutating RPC once per caller and request id: a repeat gets the first answer, a reuse
of the id with other content REQUEST_ID_REUSED.

Each service keeps a `request_ids` table in its own schema, keyed by the caller's SPIFFE path
(so one merchant's ids never collide with another's), the method and the request id; a row holds
a digest of the request and, once answered, the serialized response. A failed call leaves no row
(errors are not replayed: nothing was written, so the caller may retry). A claim left by a
process that died mid-call is taken over after `stale_after` seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from paysuite.errors import DomainError, ErrorKind, RequestIdReused, Violations
from paysuite.runtime.authz import caller_of
from paysuite.runtime.method_handlers import WrappedPerMethod
from paysuite.runtime.protoconv import check_id

if TYPE_CHECKING:
    _Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
    _Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
else:  # generic only in the type stubs
    _ServerInterceptor = grpc.aio.ServerInterceptor
    _Context = grpc.aio.ServicerContext

_CLAIM = """
INSERT INTO request_ids (caller, method, request_id, fingerprint, claimed_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT DO NOTHING
RETURNING true
"""
_READ = """
SELECT fingerprint, response, claimed_at < now() - make_interval(secs => $4) AS stale
FROM request_ids WHERE caller = $1 AND method = $2 AND request_id = $3
"""
_TAKE_OVER = """
UPDATE request_ids SET claimed_at = now()
WHERE caller = $1 AND method = $2 AND request_id = $3 AND response IS NULL
  AND claimed_at < now() - make_interval(secs => $4)
RETURNING true
"""
_ANSWER = """
UPDATE request_ids SET response = $4
WHERE caller = $1 AND method = $2 AND request_id = $3
"""
_FORGET = """
DELETE FROM request_ids
WHERE caller = $1 AND method = $2 AND request_id = $3 AND response IS NULL
"""


class RequestInProgress(DomainError):
    """The first call with this request id is still being answered: retry shortly."""

    kind = ErrorKind.ABORTED
    reason = "REQUEST_IN_PROGRESS"


def fingerprint(method: str, request: Message, key_field: str) -> bytes:
    """Digest of the method and the request without its request id: a retry matches, a reuse
    with other content does not."""
    content = type(request)()
    content.CopyFrom(request)
    if key_field == "request_id":
        content.ClearField(key_field)
    return hashlib.sha256(
        method.encode() + b"\0" + content.SerializeToString(deterministic=True)
    ).digest()


class RequestIdStore:
    """The service's request_ids table, over its asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, *, stale_after: float = 300.0) -> None:
        self._pool = pool
        self._stale_after = stale_after

    async def claim(
        self, key: tuple[str, str, str], digest: bytes, reused: str = RequestIdReused.reason
    ) -> bytes | None:
        """None when this call is to be answered now; the first answer's bytes for a repeat;
        a reuse with other content raises RequestIdReused with the reason given."""
        async with self._pool.acquire() as connection:
            if await connection.fetchval(_CLAIM, *key, digest):
                return None
            row = await connection.fetchrow(_READ, *key, self._stale_after)
            if row is None:  # forgotten in between: the first call failed
                if await connection.fetchval(_CLAIM, *key, digest):
                    return None
                raise RequestInProgress("a call with this request_id is being answered")
            if bytes(row["fingerprint"]) != digest:
                raise RequestIdReused("the id was used for a different request", reason=reused)
            if row["response"] is not None:
                return bytes(row["response"])
            if await connection.fetchval(_TAKE_OVER, *key, self._stale_after):
                return None
            raise RequestInProgress("a call with this request_id is being answered")

    async def answer(self, key: tuple[str, str, str], response: bytes) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(_ANSWER, *key, response)

    async def forget(self, key: tuple[str, str, str]) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(_FORGET, *key)


def _response_class(method: str) -> type[Message]:
    """The generated response message of /package.Service/Method."""
    found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    return message_factory.GetMessageClass(found.output_type)


class RequestIdInterceptor(_ServerInterceptor):
    """Answers the named unary RPCs once per caller and key field (the request id, or for
    ReserveLimit the payment id); runs inside authorization, so the caller is allowed."""

    def __init__(self, store: RequestIdStore, keys: Mapping[str, str]) -> None:
        self._store = store
        self._keys = dict(keys)
        self._wrapped = WrappedPerMethod(self._wrap)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method not in self._keys or handler.unary_unary is None:
            return handler
        return self._wrapped(handler, method)

    def _wrap(self, handler: _Handler, method: str) -> _Handler:
        return grpc.unary_unary_rpc_method_handler(
            self._once(handler.unary_unary, method, self._keys[method], _response_class(method)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _once(
        self, behavior: Any, method: str, key_field: str, response_class: type[Message]
    ) -> Any:
        store = self._store

        async def call(request: Message, context: _Context) -> Any:
            violations = Violations()
            request_id = check_id(getattr(request, key_field), key_field, violations)
            violations.raise_if_any()
            identity = caller_of(context)
            key = (identity.path if identity else "", method, request_id)
            digest = fingerprint(method, request, key_field)
            # REQUEST_ID_REUSED, or for a payment id as key PAYMENT_ID_REUSED.
            first = await store.claim(key, digest, f"{key_field.upper()}_REUSED")
            if first is not None:
                return response_class.FromString(first)
            try:
                response = await behavior(request, context)
            except BaseException:
                await store.forget(key)
                raise
            await store.answer(key, response.SerializeToString())
            return response

        return call
