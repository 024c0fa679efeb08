"""Micro-batching: concurrent requests share a model call, each gets its own rows back, and errors reach them all."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from shared.batching import MicroBatcher


def test_concurrent_requests_share_model_calls_and_get_their_own_rows() -> None:
    batches: list[int] = []

    def double(batch: np.ndarray) -> np.ndarray:
        batches.append(len(batch))
        return batch * 2

    batcher = MicroBatcher(double, max_batch=8)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(*(batcher.submit(np.full((1 + n % 2, 3), n)) for n in range(10)))

    answers = asyncio.run(main())
    for n, answer in enumerate(answers):
        assert answer.shape == (1 + n % 2, 3) and (answer == 2 * n).all()
    assert sum(batches) == 15 and max(batches) <= 8 and len(batches) < 10  # fewer calls than requests


def test_a_slow_model_runs_beside_the_event_loop() -> None:
    def slow(batch: np.ndarray) -> np.ndarray:
        time.sleep(0.01)
        return batch

    batcher = MicroBatcher(slow)
    batcher.last_seconds = 0.01  # a long call: the next runs in the batcher's thread

    async def main() -> tuple[list[np.ndarray], int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            for _ in range(5):
                await asyncio.sleep(0.001)
                ticks += 1

        answers, _ = await asyncio.gather(asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(4))), tick())
        return answers, ticks

    answers, ticks = asyncio.run(main())
    assert len(answers) == 4 and ticks == 5 and batcher.calls == 1


def test_where_a_call_runs_depends_on_its_cpu_time_not_its_wall_time() -> None:
    """A call that waits (preempted, or for the GIL) without computing stays on the event loop; one that computes
    for longer than INLINE_SECONDS moves to the batcher's thread."""
    threads: list[str] = []

    def waits(batch: np.ndarray) -> np.ndarray:
        threads.append(threading.current_thread().name)
        time.sleep(0.01)
        return batch

    def computes(batch: np.ndarray) -> np.ndarray:
        threads.append(threading.current_thread().name)
        start = time.thread_time()
        while time.thread_time() - start < 0.005:
            pass
        return batch

    async def three_calls(batcher: MicroBatcher) -> None:
        for _ in range(3):
            await batcher.submit(np.ones((1, 2)))

    main = threading.current_thread().name
    asyncio.run(three_calls(MicroBatcher(waits)))
    assert threads == [main] * 3
    threads.clear()
    asyncio.run(three_calls(MicroBatcher(computes, name="busy")))
    assert threads[0] == main and all(name.startswith("batch-busy") for name in threads[1:])


def test_a_failing_model_call_fails_every_request_of_its_batch() -> None:
    def broken(batch: np.ndarray) -> np.ndarray:
        raise RuntimeError("model failed")

    batcher = MicroBatcher(broken)

    async def main() -> list:
        return await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(3)), return_exceptions=True)

    assert [str(error) for error in asyncio.run(main())] == ["model failed"] * 3
    with pytest.raises(RuntimeError):
        asyncio.run(batcher.submit(np.ones((1, 2))))
