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
from gateway.domain.ports import LedgerPort, LedgerPosting
from gateway.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.money import Money

_log = logging.getLogger(__name__)

LEDGER_TRANSFER = "ledger_transfer"
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
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
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
        parent = TraceContextTextMapPropagator().extract({"traceparent": message.traceparent})
        token = otel_context.attach(parent)
        try:
            payload = message.payload
            postings = [
                LedgerPosting(d, c, Money(cur, amount)) for d, c, cur, amount in payload["postings"]
            ]
            result = await self._ledger.post(
                message.idempotency_key, postings, payload["description"], payload["metadata"]
            )
        except grpc.aio.AioRpcError as exc:
            trace.get_current_span().record_exception(exc)
            return f"ledger unavailable: {exc.code().name}"
        finally:
            otel_context.detach(token)
        if result in _DONE:
            return None
        _log.error(
            "ledger refused a posting",
            extra={"transfer_id": message.idempotency_key, "result": result},
        )
        return f"ledger refused: {result}"
