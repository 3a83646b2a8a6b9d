"""The edge of the error model: domain errors become google.rpc.Status with ErrorInfo."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from paysuite.errors import (
    INTERNAL_REASON,
    DomainError,
    ErrorKind,
    InvalidArgument,
    RateLimited,
    Unavailable,
)
from paysuite.runtime.enums import short_name, value_of
from paysuite.runtime.lost_connections import lost_database
from paysuite.runtime.method_handlers import MethodWrappingInterceptor
from paysuite.type.v1.error_reason_pb2 import ErrorReason

_log = logging.getLogger(__name__)

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Status details travel in a trailer, whose size gRPC caps at 8 KiB by default: the first
# violations of an oversized request name enough.
VIOLATIONS_BUDGET_BYTES = 4096

CODE_BY_KIND: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.ABORTED: grpc.StatusCode.ABORTED,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
}


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _within_budget(violations: list[tuple[str, str]]) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    spent = 0
    for field, description in violations:
        field, description = field[:200], description[:200]
        spent += len(field.encode()) + len(description.encode()) + 8
        if kept and spent > VIOLATIONS_BUDGET_BYTES:
            break
        kept.append((field, description))
    return kept


def status_for(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    domain: str,
    metadata: dict[str, str] | None = None,
    violations: list[tuple[str, str]] | None = None,
) -> status_pb2.Status:
    """Builds the rich status: ErrorInfo always, BadRequest when fields are named."""
    status = status_pb2.Status(code=code.value[0], message=message[:1000])
    # Values may echo a caller's input: each kept short.
    short = {k[:64]: v[:256] for k, v in (metadata or {}).items()}
    info = error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=short)
    status.details.append(_packed(info))
    if violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in _within_budget(violations)
            ]
        )
        status.details.append(_packed(bad_request))
    return status


def status_of_error(error: DomainError, domain: str) -> tuple[grpc.StatusCode, status_pb2.Status]:
    code = CODE_BY_KIND[error.kind]
    violations = (
        [(v.field, v.description) for v in error.violations]
        if isinstance(error, InvalidArgument)
        else None
    )
    status = status_for(code, error.message, error.reason, domain, error.metadata, violations)
    if isinstance(error, RateLimited):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(int(error.retry_after * 1e9), 1_000_000))
        status.details.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    return code, status


async def abort_with(
    context: grpc.aio.ServicerContext[Any, Any], code: grpc.StatusCode, status: status_pb2.Status
) -> None:
    await context.abort(
        code, status.message, trailing_metadata=((_STATUS_DETAILS_KEY, status.SerializeToString()),)
    )


class ErrorMappingInterceptor(MethodWrappingInterceptor):
    """Maps DomainError to its status and anything unexpected to a safe INTERNAL; a
    client-streaming call answers once, as a unary one does."""

    def __init__(self, domain: str) -> None:
        super().__init__()
        self._domain = domain

    def once(self, behavior: Any, method: str) -> Any:
        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                return await behavior(request, context)
            except Exception as exc:
                await self._abort(exc, context, method)

        return unary

    def streaming(self, behavior: Any, method: str) -> Any:
        if not inspect.isasyncgenfunction(behavior):
            # Handlers that stream by context.write() are plain coroutines.
            return self.once(behavior, method)

        async def stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            try:
                async for response in behavior(request, context):
                    yield response
            except Exception as exc:
                await self._abort(exc, context, method)

        return stream

    async def _abort(
        self, exc: Exception, context: grpc.aio.ServicerContext[Any, Any], method: str
    ) -> None:
        if isinstance(exc, grpc.aio.AbortError | asyncio.CancelledError):
            raise exc
        if isinstance(exc, DomainError):
            code, status = status_of_error(exc, self._domain)
            await abort_with(context, code, status)
        if lost_database(exc):  # a restart or failover: the caller may retry
            _log.warning("database unavailable in %s", method, extra={"rpc.method": method})
            code, status = status_of_error(Unavailable("database unavailable"), self._domain)
            await abort_with(context, code, status)
        # Details stay in our logs; the caller learns only that it failed.
        _log.exception("unexpected error in %s", method, extra={"rpc.method": method})
        await abort_with(
            context,
            grpc.StatusCode.INTERNAL,
            status_for(grpc.StatusCode.INTERNAL, "internal error", INTERNAL_REASON, self._domain),
        )


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status carried by a failed call, if the server sent one."""
    # At run time aio trailers iterate as (key, value) pairs, whatever the stubs say.
    trailers = cast("Iterable[tuple[str, bytes]]", error.trailing_metadata() or ())
    for key, value in trailers:
        if key == _STATUS_DETAILS_KEY:
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    return None


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a failed call; clients branch on its reason, never on message text."""
    status = rich_status(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def error_reason(error: grpc.aio.AioRpcError) -> ErrorReason.ValueType:
    """The published reason of a failed call, e.g. `ErrorReason.ERROR_REASON_LIMIT_EXCEEDED`.

    ERROR_REASON_UNSPECIFIED when the call carried no ErrorInfo or a reason this client's
    protos do not know yet.
    """
    info = error_info(error)
    try:
        return value_of(ErrorReason, info.reason) if info else ErrorReason.ERROR_REASON_UNSPECIFIED
    except ValueError:
        return ErrorReason.ERROR_REASON_UNSPECIFIED


def reason_name(reason: ErrorReason.ValueType) -> str:
    """The reason as ErrorInfo.reason spells it on the wire: the value's name without prefix."""
    return short_name(ErrorReason, reason)


def field_violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs of a BadRequest detail, if any."""
    status = rich_status(error)
    result: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            result.extend((v.field, v.description) for v in bad.field_violations)
    return result
