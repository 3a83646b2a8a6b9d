"""The transactional outbox: messages written with the change that caused them, delivered
later in batches and then deleted (the queue holds what is in flight)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.domain.answers import Message


def enqueue_from(change: str, traceparent: str, now: str, messages: str) -> str:
    """SQL of a CTE body that queues messages when the change's CTE wrote a row: `messages`
    names the first of three parameters (kinds, keys, payloads: see message_columns)."""
    first = int(messages.removeprefix("$"))
    kinds, keys, payloads = (f"${first + i}::text[]" for i in range(3))
    return f"""
    INSERT INTO outbox (
        kind, idempotency_key, payload, traceparent, attempts, last_error, created_at,
        next_attempt_at
    )
    SELECT m.kind, m.key, m.payload::jsonb, {traceparent}::text, 0, '', {now}, {now}
    FROM {change}, unnest({kinds}, {keys}, {payloads}) AS m(kind, key, payload)
    ON CONFLICT (idempotency_key) DO NOTHING
    """


def message_columns(messages: Sequence[Message]) -> tuple[list[str], list[str], list[str]]:
    """The three array parameters enqueue_from reads messages from."""
    return (
        [m.kind.value for m in messages],
        [m.key for m in messages],
        [orjson.dumps(m.payload).decode() for m in messages],
    )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    outbox_id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    traceparent: str
    attempts: int


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        row["outbox_id"],
        row["kind"],
        row["idempotency_key"],
        orjson.loads(row["payload"]),
        row["traceparent"],
        row["attempts"],
    )


class OutboxStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def enqueue(self, message: Message, traceparent: str, now: datetime) -> int | None:
        """Adds the message; None when one with its key was enqueued before."""
        outbox_id = await self._conn.fetchval(
            """
            INSERT INTO outbox (
                kind, idempotency_key, payload, traceparent, attempts, last_error, created_at,
                next_attempt_at
            ) VALUES ($1, $2, $3::jsonb, $4, 0, '', $5, $5)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING outbox_id
            """,
            message.kind.value,
            message.key,
            orjson.dumps(message.payload).decode(),
            traceparent,
            now,
        )
        return None if outbox_id is None else int(outbox_id)

    async def claim_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Locks due, undelivered messages; other relays skip them rather than wait."""
        found = await self._conn.fetch(
            """
            SELECT outbox_id, kind, idempotency_key, payload, traceparent, attempts FROM outbox
            WHERE next_attempt_at <= $1
            ORDER BY next_attempt_at, outbox_id LIMIT $2
            FOR UPDATE SKIP LOCKED
            """,
            now,
            limit,
        )
        return [_message(r) for r in found]

    async def claim_keys(self, keys: Sequence[str]) -> list[OutboxMessage]:
        """Locks these messages, waiting for a relay that holds them (and then finds them
        gone when it delivered them)."""
        found = await self._conn.fetch(
            """
            SELECT outbox_id, kind, idempotency_key, payload, traceparent, attempts FROM outbox
            WHERE idempotency_key = ANY($1::text[])
            ORDER BY outbox_id
            FOR UPDATE
            """,
            list(keys),
        )
        return [_message(r) for r in found]

    async def backlog(self, now: datetime) -> tuple[int, float]:
        """How many messages wait (due or retrying later), and the oldest one's age in seconds."""
        row = await self._conn.fetchrow(
            "SELECT count(*) AS waiting, min(created_at) AS oldest FROM outbox"
        )
        oldest = row["oldest"]
        return int(row["waiting"]), 0.0 if oldest is None else (now - oldest).total_seconds()

    async def delivered(self, outbox_ids: list[int]) -> None:
        """Takes delivered messages off the queue."""
        await self._conn.execute(
            "DELETE FROM outbox WHERE outbox_id = ANY($1::bigint[])", outbox_ids
        )

    async def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        await self._conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 "
            "WHERE outbox_id = $1",
            outbox_id,
            error[:500],
            retry_at,
        )
