"""The wallet settling with the platform: after each day ends (and settle_delay_ms more), it pays
the day's takings (the payments it took, less its fees, less the day's refunds with the fees they
gave back) into the platform's reserve account at the bank, by the bank's pay-in of a channel's
settlement (POST /_admin/reserve/settlements, under STL-<channel>-<YYYYMMDD>), booked at the
moment it was due. Once per date: the bank decides a settlement once, so a repeat is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from channelsim.banktime import SHANGHAI, format_trade_time, from_epoch
from walletsim.store import SUCCESS, WalletStore

_log = logging.getLogger(__name__)

# What the bank's statement names as the payer of each wallet's settlements.
PAYERS = {"alipaysim": "Alipay", "wechatsim": "WeChat Pay"}


def _on(day: date, moment: float | None) -> bool:
    return moment is not None and from_epoch(moment).date() == day


def takings(store: WalletStore, mch_id: str, day: date) -> int:
    """What the wallet owes the merchant for a date (Shanghai): the payments it took that day
    less its fees, less the refunds it made that day less the fees they gave back."""
    trades = {t.out_trade_no: t for t in store.trades.values() if t.mch_id == mch_id}
    taken = sum(
        t.amount - t.fee for t in trades.values() if t.status == SUCCESS and _on(day, t.decided_at)
    )
    refunded = sum(
        r.amount - r.fee
        for r in store.refunds.values()
        if r.ok and r.out_trade_no in trades and _on(day, r.created_at)
    )
    return taken - refunded


def trading_days(store: WalletStore, mch_id: str) -> set[date]:
    """The dates the wallet took or gave back money on for the merchant."""
    mine = {t.out_trade_no for t in store.trades.values() if t.mch_id == mch_id}
    days = {
        from_epoch(t.decided_at).date()
        for t in store.trades.values()
        if t.mch_id == mch_id and t.status == SUCCESS and t.decided_at is not None
    }
    days |= {
        from_epoch(r.created_at).date()
        for r in store.refunds.values()
        if r.ok and r.out_trade_no in mine
    }
    return days


def due_at(day: date, delay_ms: int) -> float:
    """When a date's settlement is paid: delay_ms after the day ends (Shanghai)."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)
    return end.timestamp() + delay_ms / 1000


@dataclass(frozen=True)
class SettlementSent:
    """A date's settlement as the bank took it."""

    business_date: date
    amount: int
    booked_at: float
    bank: dict[str, Any]

    def view(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date.isoformat(),
            "amount": self.amount,
            "booking_time": format_trade_time(from_epoch(self.booked_at)),
            "bank": self.bank,
        }


class NothingToSettle(Exception):
    """The date's takings are not positive: nothing is paid in."""


class Settler:
    """Pays each ended date's takings into the reserve account, once; every check_seconds it
    looks for dates that fell due (a date the bank did not take is tried again)."""

    def __init__(
        self,
        store: WalletStore,
        mch_id: str,
        channel: str,
        bank_url: str | None,
        delay_ms: Callable[[], int],
        check_seconds: float,
    ) -> None:
        self._store = store
        self._mch_id = mch_id
        self._channel = channel
        self._bank_url = bank_url.rstrip("/") if bank_url else None
        self._delay_ms = delay_ms
        self._check_seconds = check_seconds
        self._session: aiohttp.ClientSession | None = None
        self.sent: dict[date, SettlementSent] = {}

    async def settle(self, day: date, booked_at: float) -> SettlementSent:
        """Pays the date's takings in, booked at booked_at; the settlement made before when the
        date was settled already. Raises NothingToSettle, or aiohttp/timeout errors when the
        bank did not take it."""
        if day in self.sent:
            return self.sent[day]
        if self._bank_url is None or self._session is None:
            raise RuntimeError("no bank to settle with (WALLETSIM_BANK_URL)")
        amount = takings(self._store, self._mch_id, day)
        if amount <= 0:
            raise NothingToSettle(day.isoformat())
        payload = {
            "channel": self._channel,
            "business_date": day.isoformat(),
            "amount": amount,
            "payer": PAYERS.get(self._channel, self._channel),
            "booking_time": format_trade_time(from_epoch(booked_at)),
        }
        async with self._session.post(
            f"{self._bank_url}/_admin/reserve/settlements",
            json=payload,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json()
        sent = SettlementSent(day, amount, booked_at, answer)
        self.sent[day] = sent
        _log.info(
            "settlement paid in",
            extra={"business_date": day.isoformat(), "amount": amount, "paid": answer.get("paid")},
        )
        return sent

    async def settle_due(self, now: float) -> None:
        """Every date that fell due by now and is not settled yet, at the moment it fell due."""
        delay = self._delay_ms()
        for day in sorted(trading_days(self._store, self._mch_id) - set(self.sent)):
            due = due_at(day, delay)
            if due > now:
                continue
            try:
                await self.settle(day, due)
            except NothingToSettle:
                self.sent[day] = SettlementSent(day, 0, due, {})
            except (aiohttp.ClientError, TimeoutError) as exc:
                _log.warning(
                    "settlement not taken by the bank; tried again later",
                    extra={"business_date": day.isoformat(), "error": type(exc).__name__},
                )

    async def _run(self) -> None:
        while True:
            await self.settle_due(time.time())
            await asyncio.sleep(self._check_seconds)

    async def lifecycle(self, _: web.Application) -> AsyncIterator[None]:
        """Settles in the background while the app runs (when it has a bank to settle with)."""
        if self._bank_url is None:
            yield
            return
        self._session = aiohttp.ClientSession()
        task = asyncio.create_task(self._run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self._session.close()


SETTLER = web.AppKey("walletsim_settler", Settler)
