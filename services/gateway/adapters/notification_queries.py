"""Channel notifications already applied, by the channel's own notification id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.adapters.tables import channel_notifications


class NotificationQueries:
    """Channel notifications already applied, so a resent one is never applied twice."""

    _conn: AsyncConnection

    async def notification_applied(self, channel: str, notification_id: str) -> bool:
        row = (
            await self._conn.execute(
                select(channel_notifications.c.payment_id).where(
                    channel_notifications.c.channel == channel,
                    channel_notifications.c.notification_id == notification_id,
                )
            )
        ).first()
        return row is not None

    async def add_notification(
        self, channel: str, notification_id: str, payment_id: str, outcome: str, now: datetime
    ) -> bool:
        """Records a notification as applied; False when it was recorded before."""
        statement = (
            insert(channel_notifications)
            .values(
                channel=channel,
                notification_id=notification_id,
                payment_id=payment_id,
                outcome=outcome,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel", "notification_id"])
            .returning(channel_notifications.c.notification_id)
        )
        return (await self._conn.execute(statement)).first() is not None
