"""The transactional outbox relay: ledger postings committed with the payment reach the ledger.

A crash between the payment's commit and the ledger call loses nothing (the row stays) and
posts nothing twice (the transfer id is derived from the payment, and the ledger is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.adapters.repository import OutboxMessage
from gateway.domain.ports import IdentityPort, LedgerPort, LedgerPosting
from gateway.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.money import Money
from paysuite.runtime.grpc_errors import error_info

_log = logging.getLogger(__name__)

LEDGER_TRANSFER = "ledger_transfer"
LIMIT_COMMIT = "limit_commit"
LIMIT_RELEASE = "limit_release"
# Answers that mean a limit message needs no retry: done before, or nothing to settle.
_SETTLED_REASONS = {"RESERVATION_NOT_FOUND"}
_DONE = {"POSTED", "EXISTS"}


def current_traceparent() -> str:
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent", "")


def transfer_payload(
    postings: list[LedgerPosting], description: str, metadata: dict[str, str]
) -> dict[str, object]:
    return {
        "description": description,
        "metadata": metadata,
        "postings": [
            [p.debit_account_id, p.credit_account_id, p.amount.currency, p.amount.minor_units]
            for p in postings
        ],
    }


class OutboxRelay:
    """Delivers outbox messages now when asked, and in the background until they land."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        ledger: LedgerPort,
        identity: IdentityPort,
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._identity = identity
        self._clock = clock
        self._poll = poll_seconds
        self._wake = asyncio.Event()

    async def deliver_now(self, outbox_id: int) -> None:
        await self._deliver_batch(outbox_id)

    async def run(self) -> None:
        while True:
            try:
                delivered = await self._deliver_batch(None)
            except Exception:
                _log.exception("outbox relay pass failed")
                delivered = 0
            if delivered == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                self._wake.clear()

    async def _deliver_batch(self, outbox_id: int | None) -> int:
        delivered = 0
        async with self._uow() as work:
            messages = await work.repo.claim_due(self._clock(), 50, outbox_id)
            for message in messages:
                error = await self._send(message)
                now = self._clock()
                if error is None:
                    await work.repo.mark_delivered(message.outbox_id, now)
                    delivered += 1
                else:
                    backoff = min(300, 2 ** min(message.attempts, 8))
                    await work.repo.mark_failed(
                        message.outbox_id, error, now + timedelta(seconds=backoff)
                    )
            await work.commit()
        return delivered

    async def _send(self, message: OutboxMessage) -> str | None:
        """Delivers one message under the trace of the request that wrote it."""
        parent = TraceContextTextMapPropagator().extract({"traceparent": message.traceparent})
        token = otel_context.attach(parent)
        try:
            if message.kind == LEDGER_TRANSFER:
                return await self._post(message)
            return await self._settle_limit(message)
        except grpc.aio.AioRpcError as exc:
            trace.get_current_span().record_exception(exc)
            return f"{message.kind} undelivered: {exc.code().name}"
        finally:
            otel_context.detach(token)

    async def _post(self, message: OutboxMessage) -> str | None:
        payload = message.payload
        postings = [
            LedgerPosting(d, c, Money(cur, amount)) for d, c, cur, amount in payload["postings"]
        ]
        result = await self._ledger.post(
            message.idempotency_key, postings, payload["description"], payload["metadata"]
        )
        if result in _DONE:
            return None
        _log.error(
            "ledger refused a posting",
            extra={"transfer_id": message.idempotency_key, "result": result},
        )
        return f"ledger refused: {result}"

    async def _settle_limit(self, message: OutboxMessage) -> str | None:
        try:
            await self._identity.settle_limit(
                message.payload["payment_id"], commit=message.kind == LIMIT_COMMIT
            )
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            if info is not None and info.reason in _SETTLED_REASONS:
                return None
            if info is not None and info.reason == "RESERVATION_FINAL":
                _log.error(
                    "limit reservation already settled the other way",
                    extra={"payment_id": message.payload["payment_id"]},
                )
                return None
            raise
        return None
