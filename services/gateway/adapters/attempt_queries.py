"""A payment's channel attempts, and each channel's volume reserved per accounting day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.adapters.tables import channel_attempts, channel_daily_volume
from gateway.domain.attempts import ChannelAttempt
from paysuite.money import Money


class AttemptQueries:
    """A payment's channel attempts, in order."""

    _conn: AsyncConnection

    async def add_attempt(self, attempt: ChannelAttempt) -> None:
        await self._conn.execute(
            insert(channel_attempts).values(
                payment_id=attempt.payment_id,
                attempt_no=attempt.attempt_no,
                channel=attempt.channel,
                rule=attempt.rule,
                reason=attempt.reason,
                outcome=attempt.outcome,
                error_code=attempt.error_code[:64],
                created_at=attempt.created_at,
                updated_at=attempt.updated_at,
                volume_reserved=attempt.volume_reserved,
            )
        )

    async def reserve_volume(self, channel: str, day: date, amount: Money, limit: int) -> bool:
        """Adds the amount to the channel's volume of the day unless that would pass the limit;
        the row stays locked until the transaction ends."""
        key = {"channel": channel, "accounting_date": day, "currency": amount.currency}
        await self._conn.execute(
            insert(channel_daily_volume)
            .values(**key, reserved=0)
            .on_conflict_do_nothing(index_elements=list(key))
        )
        volume = channel_daily_volume.c
        reserved = await self._conn.execute(
            update(channel_daily_volume)
            .where(
                volume.channel == channel,
                volume.accounting_date == day,
                volume.currency == amount.currency,
                volume.reserved + amount.minor_units <= limit,
            )
            .values(reserved=volume.reserved + amount.minor_units)
            .returning(volume.reserved)
        )
        return reserved.first() is not None

    async def release_volume(self, payment_id: str) -> None:
        """Gives back what the payment's attempts reserved of their channels' daily volume."""
        await self._conn.execute(
            text(
                """
                WITH released AS (
                    UPDATE channel_attempts SET volume_reserved = false
                    WHERE payment_id = :payment_id AND volume_reserved
                    RETURNING channel
                )
                UPDATE channel_daily_volume v SET reserved = v.reserved - p.amount
                FROM released r, payments p
                WHERE p.payment_id = :payment_id AND v.channel = r.channel
                  AND v.accounting_date = p.accounting_date AND v.currency = p.currency
                """
            ),
            {"payment_id": payment_id},
        )

    async def attempt_answered(
        self, payment_id: str, outcome: str, error_code: str, now: datetime
    ) -> None:
        """Records the channel's latest word on the payment's current (last) attempt."""
        latest = (
            select(func.max(channel_attempts.c.attempt_no))
            .where(channel_attempts.c.payment_id == payment_id)
            .scalar_subquery()
        )
        await self._conn.execute(
            update(channel_attempts)
            .where(
                channel_attempts.c.payment_id == payment_id,
                channel_attempts.c.attempt_no == latest,
            )
            .values(outcome=outcome, error_code=error_code[:64], updated_at=now)
        )

    async def attempts(self, payment_id: str) -> list[ChannelAttempt]:
        rows = (
            await self._conn.execute(
                select(channel_attempts)
                .where(channel_attempts.c.payment_id == payment_id)
                .order_by(channel_attempts.c.attempt_no)
            )
        ).all()
        return [
            ChannelAttempt(
                payment_id=row.payment_id,
                attempt_no=row.attempt_no,
                channel=row.channel,
                rule=row.rule,
                reason=row.reason,
                created_at=row.created_at,
                updated_at=row.updated_at,
                outcome=row.outcome,
                error_code=row.error_code,
                volume_reserved=row.volume_reserved,
            )
            for row in rows
        ]
