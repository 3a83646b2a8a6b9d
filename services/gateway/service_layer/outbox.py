"""The transactional outbox relay: what a payment's (or payout's) change committed reaches the
ledger and identity, in batches.

Messages are claimed under row locks (other relays skip them), sent as one ledger call for
all transfers, one call per payout hold to post or void, and one identity call for all limit
settlements, and deleted in the same
transaction once delivered. A crash in between loses nothing (the rows stay) and posts nothing twice
(transfer ids and limit settlements are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.adapters.store.outbox import OutboxMessage
from gateway.domain.answers import MessageKind
from gateway.domain.ports import (
    HoldSettlement,
    IdentityPort,
    LedgerPort,
    LedgerPosting,
    LedgerTransfer,
    LimitSettlement,
    SettleOutcome,
)
from gateway.service_layer.measurements import BacklogGauge
from gateway.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from paysuite.errors import Unavailable
from paysuite.money import Money
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
_propagator = TraceContextTextMapPropagator()

_POSTED = {"POSTED", "EXISTS"}
# A void of a hold that was never made, or was refused when it was asked for.
_NOTHING_HELD = {"TRANSFER_NOT_FOUND", "NOT_PENDING"}
_HOLD_NOT_FOUND = "TRANSFER_NOT_FOUND"
# A hold made, or made before.
_HELD = {"PENDING", "EXISTS"}
# The void of a hold the relay made because its first void found none.
CLAIMED_VOID_SUFFIX = ":claimed"
_VOID_DONE = {*_POSTED, "NOT_PENDING"}
# One ledger call posts at most this many transfers (the ledger takes up to 8000).
BATCH = 500
MAX_LINKS = 128


def current_traceparent() -> str:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent", "")


def _transfer(message: OutboxMessage) -> LedgerTransfer:
    return _transfer_of(message.idempotency_key, message.payload)


def _transfer_of(key: str, payload: Mapping[str, Any], *, pending: bool = False) -> LedgerTransfer:
    return LedgerTransfer(
        key,
        [LedgerPosting(d, c, Money(cur, amount)) for d, c, cur, amount in payload["postings"]],
        payload["description"],
        payload["metadata"],
        pending=pending,
    )


@contextlib.contextmanager
def _traced_batch(name: str, messages: Sequence[OutboxMessage]) -> Iterator[None]:
    """Sends under a span of the writer's trace (a payment's, as its change was written) when
    every message shares one; else under a span of its own, linked to each writer's
    (OpenTelemetry's pattern for batches)."""
    parents = {m.traceparent for m in messages}
    parent = otel_context.Context()
    links = []
    if len(parents) == 1:
        parent = _propagator.extract({"traceparent": parents.pop()})
    else:
        for traceparent in sorted(parents)[:MAX_LINKS]:
            span_context = trace.get_current_span(
                _propagator.extract({"traceparent": traceparent})
            ).get_span_context()
            if span_context.is_valid:
                links.append(Link(span_context))
    with _tracer.start_as_current_span(
        name, context=parent, links=links, attributes={attrs.OUTBOX_MESSAGES: len(messages)}
    ):
        yield


def _refused(
    messages: Sequence[OutboxMessage],
    results: Mapping[str, str],
    landed: Callable[[OutboxMessage], set[str]],
) -> dict[int, str]:
    """The error of each message the ledger did not take (its result is not one that `landed`
    allows for it), by outbox id; each is logged."""
    errors = {}
    for message in messages:
        result = results.get(message.idempotency_key, "MISSING")
        if result not in landed(message):
            _log.error(
                "ledger refused a posting",
                extra={"transfer_id": message.idempotency_key, "result": result},
            )
            errors[message.outbox_id] = f"ledger refused: {result}"
    return errors


class OutboxRelay:
    """Delivers due messages in batches: soon after it is woken (lingering so that the
    messages of concurrent payments share a call), else every poll_seconds."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        ledger: LedgerPort,
        identity: IdentityPort,
        clock: Callable[[], datetime],
        *,
        poll_seconds: float,
        linger_seconds: float,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._identity = identity
        self._clock = clock
        self._poll = poll_seconds
        self._linger = linger_seconds
        self._wake = asyncio.Event()
        self._backlog = BacklogGauge()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                claimed = await self.deliver_due()
                if self._backlog.due():
                    async with self._uow() as work:
                        self._backlog.set(*await work.repo.outbox.backlog(self._clock()))
            except Exception:
                _log.exception("outbox relay pass failed")
                claimed = 0
            if claimed < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                await asyncio.sleep(self._linger)

    async def deliver_due(self) -> int:
        """One batch: claim, send, settle; returns how many messages were claimed."""
        async with self._uow() as work:
            messages = await work.repo.outbox.claim_due(self._clock(), BATCH)
            await self._deliver(work, messages)
        return len(messages)

    async def deliver_now(self, keys: Sequence[str]) -> None:
        """Delivers these messages before returning (waiting out a relay that holds them): for
        an effect the caller's answer promises, as a top-up's credit to the payer's wallet."""
        async with self._uow() as work:
            await self._deliver(work, await work.repo.outbox.claim_keys(keys))

    async def _deliver(self, work: UnitOfWork, messages: Sequence[OutboxMessage]) -> None:
        if not messages:
            return
        errors = await self._send(messages)
        now = self._clock()
        delivered = [m.outbox_id for m in messages if m.outbox_id not in errors]
        if delivered:
            await work.repo.outbox.delivered(delivered)
        for message in messages:
            if (error := errors.get(message.outbox_id)) is not None:
                backoff = min(300, 2 ** min(message.attempts, 8))
                await work.repo.outbox.mark_failed(
                    message.outbox_id, error, now + timedelta(seconds=backoff)
                )
        await work.commit()

    async def _send(self, messages: Sequence[OutboxMessage]) -> dict[int, str]:
        """Sends every message; the error of each one that did not land, by outbox id."""
        transfers = [m for m in messages if m.kind == MessageKind.LEDGER_TRANSFER.value]
        holds = [m for m in messages if MessageKind(m.kind).settles_hold]
        limits = [m for m in messages if MessageKind(m.kind).settles_limit]
        results = await asyncio.gather(
            self._post(transfers), self._settle_holds(holds), self._settle(limits)
        )
        return {**results[0], **results[1], **results[2]}

    async def _post(self, messages: Sequence[OutboxMessage]) -> dict[int, str]:
        if not messages:
            return {}
        with _traced_batch("gateway.outbox.ledger_transfers", messages):
            try:
                results = await self._ledger.post([_transfer(m) for m in messages])
            except Unavailable as exc:
                return {m.outbox_id: f"ledger_transfer undelivered: {exc}" for m in messages}
        return _refused(messages, results, lambda _: _POSTED)

    async def _settle_holds(self, messages: Sequence[OutboxMessage]) -> dict[int, str]:
        """Posts or voids payouts' holds; a void finding no hold makes it first (below), as
        the hold may yet arrive; one refused, or already settled, has nothing to undo."""
        if not messages:
            return {}
        settlements = [
            HoldSettlement(
                m.idempotency_key,
                m.payload["pending_transfer_id"],
                m.kind == MessageKind.LEDGER_POST_PENDING.value,
            )
            for m in messages
        ]
        with _traced_batch("gateway.outbox.hold_settlements", messages):
            try:
                results = await self._ledger.settle_holds(settlements)
            except Unavailable as exc:
                return {m.outbox_id: f"hold undelivered: {exc}" for m in messages}
        posts = {s.transfer_id for s in settlements if s.post}
        errors = _refused(
            messages,
            results,
            lambda m: _POSTED if m.idempotency_key in posts else _POSTED | _NOTHING_HELD,
        )
        unheld = [
            m
            for m in messages
            if results.get(m.idempotency_key) == _HOLD_NOT_FOUND and "hold" in m.payload
        ]
        return {**errors, **await self._claim_holds(unheld)}

    async def _claim_holds(self, voids: Sequence[OutboxMessage]) -> dict[int, str]:
        """Makes the holds these voids found missing, under their own ids, so that a hold still
        on its way to the ledger lands as that transfer and never after its void, and voids
        them (by a transfer of its own: the ledger keeps the first void's answer); a hold the
        ledger refuses to make was never held."""
        if not voids:
            return {}
        holds = [
            _transfer_of(m.payload["pending_transfer_id"], m.payload["hold"], pending=True)
            for m in voids
        ]
        with _traced_batch("gateway.outbox.hold_claims", voids):
            try:
                made = await self._ledger.post(holds)
                claimed = [m for m in voids if made.get(m.payload["pending_transfer_id"]) in _HELD]
                voided = await self._ledger.settle_holds(
                    [
                        HoldSettlement(
                            m.idempotency_key + CLAIMED_VOID_SUFFIX,
                            m.payload["pending_transfer_id"],
                            post=False,
                        )
                        for m in claimed
                    ]
                )
            except Unavailable as exc:
                return {m.outbox_id: f"hold claim undelivered: {exc}" for m in voids}
        errors = {}
        for message in voids:
            if message not in claimed:
                _log.info(
                    "a void's hold cannot be made: nothing was held",
                    extra={"transfer_id": message.idempotency_key},
                )
            elif voided.get(message.idempotency_key + CLAIMED_VOID_SUFFIX) not in _VOID_DONE:
                errors[message.outbox_id] = "hold made to be voided, not voided yet"
        return errors

    async def _settle(self, messages: Sequence[OutboxMessage]) -> dict[int, str]:
        if not messages:
            return {}
        by_payment = {m.payload["payment_id"]: m for m in messages}
        settlements = [
            LimitSettlement(
                m.payload["payment_id"],
                m.kind == MessageKind.LIMIT_COMMIT.value,
                returned=m.kind == MessageKind.LIMIT_RETURN.value,
            )
            for m in by_payment.values()
        ]
        with _traced_batch("gateway.outbox.limit_settlements", messages):
            try:
                outcomes = await self._identity.settle_limits(settlements)
            except Unavailable as exc:
                return {m.outbox_id: f"limit undelivered: {exc}" for m in messages}
        errors = {}
        for message in messages:
            payment_id = message.payload["payment_id"]
            outcome = outcomes.get(payment_id)
            if outcome is SettleOutcome.SETTLED_OTHERWISE:
                _log.error(
                    "limit reservation already settled the other way",
                    extra={"payment_id": payment_id},
                )
            elif outcome is None or by_payment[payment_id] is not message:
                # Two messages for one payment in a batch: the second goes next time.
                errors[message.outbox_id] = "limit not settled in this batch"
        return errors
