"""Calls that arrive while one is in flight wait, and go together in the next one: batching
by load, with no wait of its own when the line is idle (the client side of group commit)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Q = TypeVar("Q")
A = TypeVar("A")


class Coalescer(Generic[Q, A]):
    """Sends items through `send` (one answer per item, in order), at most `in_flight` calls at
    a time and at most `max_batch` items a call. A call of one item runs in its caller's
    context (its trace); a call of several runs in a fresh one, for `send` to link them.

    A free line's call leaves on the event loop's next turn, not inside `submit`, so the items
    submitted in the same turn go with it: callers woken together (by one answer of an earlier
    step) would otherwise send one item alone and the rest in a second call after it."""

    def __init__(
        self,
        send: Callable[[Sequence[Q]], Awaitable[Sequence[A]]],
        *,
        max_batch: int = 256,
        in_flight: int = 1,
    ) -> None:
        self._send = send
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._running = 0
        self._pending: list[tuple[Q, asyncio.Future[A], contextvars.Context]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Q) -> A:
        future: asyncio.Future[A] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future, contextvars.copy_context()))
        if self._running < self._in_flight:
            self._reserve_call()
        return await future

    def _reserve_call(self) -> None:
        self._running += 1
        asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        if not self._pending:  # taken by a call that left meanwhile
            self._running -= 1
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        context = batch[0][2] if len(batch) == 1 else contextvars.Context()
        task = asyncio.get_running_loop().create_task(self._flush(batch), context=context)
        # The loop holds tasks weakly: keep a reference until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[tuple[Q, asyncio.Future[A], contextvars.Context]]) -> None:
        try:
            answers = await self._send([item for item, _, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(answers)} answers to {len(batch)} items")
        except asyncio.CancelledError:
            for _, future, _ in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future, _), answer in zip(batch, answers, strict=True):
                if not future.done():  # its caller gave up waiting
                    future.set_result(answer)
        finally:
            self._running -= 1
            if self._pending and self._running < self._in_flight:
                self._reserve_call()
