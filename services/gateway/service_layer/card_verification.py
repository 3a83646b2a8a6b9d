"""Four-element card verification through the bank channel, idempotent by request id."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import trace

from gateway.domain.errors import RequestIdReused
from gateway.domain.ports import CardCheck, CardVerifier
from gateway.domain.verification import CardVerificationRecord, fingerprint
from gateway.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)


@dataclass
class VerificationDeps:
    uow: UnitOfWorkFactory
    verifier: CardVerifier
    fingerprint_key: bytes  # keys the request fingerprint; never a plain hash of PII
    clock: Callable[[], datetime]


def _annotate(record: CardVerificationRecord) -> None:
    # Only these two: the request's elements are PII and never go on spans.
    span = trace.get_current_span()
    span.set_attribute(attrs.CHANNEL, record.channel)
    span.set_attribute(attrs.VERIFICATION_OUTCOME, record.result.outcome.value)


async def _replay(
    work: UnitOfWork, request_id: str, request_hash: str
) -> CardVerificationRecord | None:
    existing = await work.repo.verifications.get(request_id)
    if existing is None:
        return None
    if not hmac.compare_digest(existing.request_hash, request_hash):
        raise RequestIdReused("request_id was used for a different verification")
    return existing


async def _store(uow: UnitOfWorkFactory, record: CardVerificationRecord) -> CardVerificationRecord:
    """Stores the answer; if a concurrent retry stored one first, that one wins."""
    async with uow() as work:
        if await work.repo.verifications.add(record):
            await work.commit()
            return record
        await work.rollback()
        raced = await _replay(work, record.request_id, record.request_hash)
        assert raced is not None
        return raced


async def verify_card(deps: VerificationDeps, check: CardCheck) -> CardVerificationRecord:
    """The stored answer for a repeated request, else the channel's verdict, stored first.

    Every outcome is stored, CANNOT_VERIFY and RATE_LIMITED too: asking again takes a new
    request id.
    """
    channel = deps.verifier.name
    request_hash = fingerprint(check, channel, deps.fingerprint_key)
    async with deps.uow() as work:
        record = await _replay(work, check.request_id, request_hash)
    if record is None:
        result = await deps.verifier.verify_card(check)
        record = await _store(
            deps.uow,
            CardVerificationRecord(check.request_id, request_hash, channel, result, deps.clock()),
        )
    _annotate(record)
    _log.info(
        "card verification answered",
        extra={
            "request_id": record.request_id,
            "channel": record.channel,
            "outcome": record.result.outcome.value,
        },
    )
    return record
