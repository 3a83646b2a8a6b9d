"""Group commit: small posting requests that arrive together share one transaction.

Every transaction costs the same few round trips whether it posts one transfer or a hundred,
so while one runs, the small requests that arrive wait, and go together in the next. Each
request still gets its own outcomes, in order, with the same all-or-nothing-per-item rule as
any batch; nothing is acknowledged before its transaction commits.

A shared transaction belongs to no one request, so it gets a span of its own, linked both ways
with the spans of the requests it carries (OpenTelemetry's way of tracing batches): what the
posting path records lands there, not on the span of whichever request started the drain
(which may long have ended).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from opentelemetry import trace

from ledger.domain.book import Outcome, Request
from ledger.service_layer.measurements import count_transfers
from paysuite.runtime import span_attributes as attrs

Run = Callable[[Sequence[Request]], Awaitable[list[Outcome]]]

# A request larger than this is a batch already: it runs in a transaction of its own.
SMALL_REQUEST = 64
# The most items one shared transaction carries (the batch API's own limit).
MAX_ITEMS = 8_000
SPAN_NAME = "ledger.group_commit"


@dataclass
class _Waiting:
    requests: Sequence[Request]
    answer: asyncio.Future[list[Outcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    span: trace.Span = field(default_factory=trace.get_current_span)


class GroupCommit:
    """Runs small requests through run() together, at most `lanes` transactions at a time.

    One lane measured best: concurrent shared transactions all touch the hot accounts, so a
    second one mostly waits for the first's row locks and commit anyway.
    """

    def __init__(self, run: Run, lanes: int = 1, tracer: trace.Tracer | None = None) -> None:
        self._run = run
        self._lanes = lanes
        self._tracer = tracer or trace.get_tracer(__name__)
        self._busy = 0
        self._queue: list[_Waiting] = []
        self._drains: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly

    async def submit(self, requests: Sequence[Request]) -> list[Outcome]:
        outcomes = await self._submit(requests)
        count_transfers(outcomes)
        return outcomes

    async def _submit(self, requests: Sequence[Request]) -> list[Outcome]:
        if len(requests) > SMALL_REQUEST:
            return await self._run(requests)
        waiting = _Waiting(requests)
        self._queue.append(waiting)
        if self._busy < self._lanes:
            self._busy += 1
            # A fresh context: the drain outlives this caller, so it must not run in its span.
            drain = asyncio.get_running_loop().create_task(
                self._drain(), context=contextvars.Context()
            )
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        # A caller that gives up cancels only its own answer: the shared transaction goes on,
        # and its transfers stand.
        return await waiting.answer

    def _take(self) -> list[_Waiting]:
        taken: list[_Waiting] = []
        items = 0
        while self._queue and items + len(self._queue[0].requests) <= MAX_ITEMS:
            waiting = self._queue.pop(0)
            taken.append(waiting)
            items += len(waiting.requests)
        return taken

    async def _drain(self) -> None:
        try:
            while taken := self._take():
                try:
                    outcomes = await self._shared_run(taken)
                except Exception:
                    # Whatever went wrong, it is not the others' to share: each alone again.
                    await self._one_by_one(taken)
                    continue
                start = 0
                for waiting in taken:
                    end = start + len(waiting.requests)
                    _answer(waiting, outcomes[start:end])
                    start = end
        finally:
            self._busy -= 1

    async def _shared_run(self, taken: list[_Waiting]) -> list[Outcome]:
        merged = [request for waiting in taken for request in waiting.requests]
        links = [trace.Link(w.span.get_span_context()) for w in taken]
        attributes = {
            attrs.GROUP_COMMIT_REQUESTS: len(taken),
            attrs.GROUP_COMMIT_ITEMS: len(merged),
        }
        with self._tracer.start_as_current_span(
            SPAN_NAME, links=links, attributes=attributes
        ) as span:
            for waiting in taken:
                if waiting.span.is_recording():  # a caller that gave up has ended its span
                    waiting.span.add_link(span.get_span_context())
            return await self._run(merged)

    async def _one_by_one(self, taken: list[_Waiting]) -> None:
        for waiting in taken:
            try:
                outcomes = await self._shared_run([waiting])
            except Exception as exc:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
                continue
            _answer(waiting, outcomes)


def _answer(waiting: _Waiting, outcomes: list[Outcome]) -> None:
    if not waiting.answer.done():  # cancelled: its caller left, its transfers stand
        waiting.answer.set_result(outcomes)
