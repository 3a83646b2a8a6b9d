"""The coalescer: a call goes on the loop's next turn with what was submitted in the same
turn; calls arriving while it is in flight share the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from paysuite.coalescing import Coalescer


class Recorder:
    """A send that records each batch and waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def send(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [item * 10 for item in items]


async def test_calls_arriving_while_one_is_in_flight_share_the_next() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, max_batch=3)
    first = asyncio.create_task(coalescer.submit(0))
    await asyncio.sleep(0.01)
    assert recorder.batches == [[0]]  # alone on a free line: it goes at once
    calls = [asyncio.create_task(coalescer.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0.01)
    assert recorder.batches == [[0]]  # the rest wait for it
    recorder.release.set()
    assert await asyncio.gather(first, *calls) == [0, 10, 20, 30, 40, 50]
    assert recorder.batches == [[0], [1, 2, 3], [4, 5]]  # then by max_batch, in order


async def test_calls_submitted_in_the_same_turn_go_together() -> None:
    recorder = Recorder()
    recorder.release.set()
    coalescer = Coalescer(recorder.send, max_batch=3)
    # Woken together, as the callers of one earlier batch are by its answers.
    calls = [asyncio.create_task(coalescer.submit(n)) for n in range(4)]
    assert await asyncio.gather(*calls) == [0, 10, 20, 30]
    assert recorder.batches == [[0, 1, 2], [3]]


async def test_more_lines_share_what_one_turn_submitted() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, max_batch=2, in_flight=2)
    calls = [asyncio.create_task(coalescer.submit(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert recorder.batches == [[0, 1], [2]]  # both lines busy, nothing sent twice
    recorder.release.set()
    assert await asyncio.gather(*calls) == [0, 10, 20]


async def test_a_failed_call_fails_its_batch_only() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send)
    first = asyncio.create_task(coalescer.submit(1))
    await asyncio.sleep(0.01)
    recorder.fail = RuntimeError("identity down")
    second = asyncio.create_task(coalescer.submit(2))
    recorder.release.set()
    with pytest.raises(RuntimeError, match="identity down"):
        await first
    with pytest.raises(RuntimeError, match="identity down"):
        await second
    recorder.fail = None
    assert await coalescer.submit(3) == 30  # the line is free again


async def test_a_caller_that_gives_up_leaves_the_others_their_answers() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send)
    blocker = asyncio.create_task(coalescer.submit(0))
    await asyncio.sleep(0.01)
    impatient = asyncio.create_task(coalescer.submit(1))
    patient = asyncio.create_task(coalescer.submit(2))
    await asyncio.sleep(0.01)
    impatient.cancel()
    recorder.release.set()
    assert await blocker == 0
    assert await patient == 20
    assert impatient.cancelled()
