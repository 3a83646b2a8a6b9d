"""Group commit: small requests arriving together share a run, each gets its own outcomes;
large ones run alone; a failed shared run is retried request by request; each shared run is
traced in a span of its own, linked with its callers'."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ledger.domain.book import Outcome, Request
from ledger.domain.model import Posting, TransferRequest, TransferResult
from ledger.service_layer.group_commit import SMALL_REQUEST, SPAN_NAME, GroupCommit
from paysuite.money import Money


def requests(prefix: str, count: int) -> list[Request]:
    posting = Posting("a", "b", Money("CNY", 1))
    return [TransferRequest(f"{prefix}{i}", (posting,)) for i in range(count)]


class Book:
    """Runs requests after a pause, remembering each run; a request id "bad*" breaks a run."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def run(self, batch: Sequence[Request]) -> list[Outcome]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            ids = [r.transfer_id for r in batch]
            self.runs.append(ids)
            # As the posting pipeline records the path it took: on the span current in the run.
            trace.get_current_span().set_attribute("run.ids", ",".join(ids))
            if any(i.startswith("bad") for i in ids):
                raise RuntimeError("the database went away")
            return [Outcome(i, TransferResult.POSTED) for i in ids]
        finally:
            self.in_flight -= 1


async def test_small_requests_arriving_together_share_runs_and_get_their_own_outcomes() -> None:
    book = Book()
    group = GroupCommit(book.run, lanes=1)
    asked = [requests(f"c{c}-", 3) for c in range(20)]
    answers = await asyncio.gather(*(group.submit(r) for r in asked))
    for request, answer in zip(asked, answers, strict=True):
        assert [o.transfer_id for o in answer] == [r.transfer_id for r in request]
    # All twenty arrived before the run began: one run, one transaction.
    assert [len(run) for run in book.runs] == [60]
    assert book.most_in_flight == 1


async def test_lanes_bound_the_runs_in_flight_and_large_requests_run_alone() -> None:
    book = Book()
    group = GroupCommit(book.run, lanes=2)
    large = requests("big-", SMALL_REQUEST + 1)
    await asyncio.gather(
        group.submit(large), *(group.submit(requests(f"s{i}-", 1)) for i in range(9))
    )
    assert [r.transfer_id for r in large] in book.runs
    assert book.most_in_flight <= 3  # two lanes, and the large request beside them


async def test_a_failed_shared_run_fails_only_the_request_that_broke_it() -> None:
    book = Book()
    group = GroupCommit(book.run, lanes=1)
    first = asyncio.ensure_future(group.submit(requests("first-", 1)))
    await asyncio.sleep(0)  # the first run is under way; the next three queue behind it
    good, bad, other = (
        asyncio.ensure_future(group.submit(requests(p, 2))) for p in ("ok-", "bad-", "fine-")
    )
    assert len(await first) == 1
    assert [o.transfer_id for o in await good] == ["ok-0", "ok-1"]
    assert [o.transfer_id for o in await other] == ["fine-0", "fine-1"]
    with pytest.raises(RuntimeError):
        await bad
    assert book.runs[1] == ["ok-0", "ok-1", "bad-0", "bad-1", "fine-0", "fine-1"]


async def test_a_caller_that_gives_up_leaves_the_shared_run_to_the_others() -> None:
    book = Book()
    group = GroupCommit(book.run, lanes=1)
    first = asyncio.ensure_future(group.submit(requests("first-", 1)))
    await asyncio.sleep(0)
    leaving, staying = (asyncio.ensure_future(group.submit(requests(p, 1))) for p in ("l-", "s-"))
    await asyncio.sleep(0)
    leaving.cancel()
    assert len(await first) == 1
    assert [o.transfer_id for o in await staying] == ["s-0"]
    assert leaving.cancelled()
    assert book.runs[1] == ["l-0", "s-0"]  # what was submitted is posted all the same


def attributes(span: ReadableSpan) -> Mapping[str, object]:
    return span.attributes or {}


async def test_each_shared_run_is_traced_in_its_own_span_linked_with_its_callers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    book = Book()
    group = GroupCommit(book.run, lanes=1, tracer=tracer)

    async def caller(name: str) -> None:
        with tracer.start_as_current_span(name):
            await group.submit(requests(f"{name}-", 1))

    first = asyncio.ensure_future(caller("first"))
    await asyncio.sleep(0)  # the first run is under way; the next two queue behind it
    # The first caller has its answer, and its span has ended, before the second run records.
    await asyncio.gather(first, caller("second"), caller("third"))

    finished = exporter.get_finished_spans()
    callers = {s.name: s for s in finished if s.name != SPAN_NAME}
    runs = [s for s in finished if s.name == SPAN_NAME]
    assert [attributes(r).get("run.ids") for r in runs] == ["first-0", "second-0,third-0"]
    for run, names in zip(runs, (["first"], ["second", "third"]), strict=True):
        assert run.parent is None  # a run belongs to no one caller
        assert attributes(run)["paysuite.group_commit.requests"] == len(names)
        assert [link.context for link in run.links] == [callers[n].context for n in names]
        for name in names:
            assert [link.context for link in callers[name].links] == [run.context]
            assert "run.ids" not in attributes(callers[name])
    assert "ended span" not in caplog.text
