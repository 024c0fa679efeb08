"""Micro-batching: the model inputs of concurrent requests run as one model call (TF Serving's batching idea).

No request waits for others to arrive: a batch is whatever queued while the previous model call ran, or during
the same turn of the event loop, so a lone request runs at once and a busy server makes fewer, larger calls. A
model call that takes long (a MobileNetV2) runs in the batcher's own thread, beside the event loop, which meanwhile
reads and decodes the next requests; a short one (a small CNN, a form's regressor) runs on the event loop itself,
where handing it to a thread would cost more than the call.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

MAX_BATCH = 32  # rows per model call (a request with more runs alone)
INLINE_SECONDS = 0.001  # a model call that costs less CPU than this runs on the event loop


@dataclass
class _Queue:
    """A batcher's state in one event loop: requests waiting, and whether a model call is scheduled or running."""

    waiting: deque[tuple[np.ndarray, asyncio.Future]] = field(default_factory=deque)
    busy: bool = False


class MicroBatcher:
    """Runs `run` (a batch of model inputs → a batch of outputs, row for row) on the rows of concurrent requests."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], *, name: str = "model", max_batch: int = MAX_BATCH):
        self._run = run
        self.max_batch = max_batch
        self.last_seconds = 0.0  # CPU seconds the last model call took: it decides where the next one runs
        self.calls = self.rows = 0
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"batch-{name}")

    async def submit(self, inputs: np.ndarray) -> np.ndarray:
        """The outputs for one request's rows (its inputs stacked, batch first), computed in a shared model call."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future = loop.create_future()
        queue.waiting.append((inputs, future))
        if not queue.busy:
            queue.busy = True
            loop.call_soon(self._flush, loop, queue)  # after the requests already ready in this turn have queued
        return await future

    def _timed_run(self, inputs: np.ndarray) -> np.ndarray:
        # CPU time, not wall time: on a busy machine a small model's call, preempted or waiting for the GIL in the
        # batcher's thread, looked long, and its calls then stayed in the thread, each paying for the hop.
        start = time.thread_time()
        try:
            return self._run(inputs)
        finally:
            self.last_seconds = time.thread_time() - start

    def _flush(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        batch, rows = [], 0
        while queue.waiting and (not batch or rows + len(queue.waiting[0][0]) <= self.max_batch):
            item = queue.waiting.popleft()
            if not item[1].cancelled():
                batch.append(item)
                rows += len(item[0])
        if not batch:
            self._next(loop, queue)
            return
        inputs = batch[0][0] if len(batch) == 1 else np.concatenate([item[0] for item in batch])
        self.calls += 1
        self.rows += rows
        if self.last_seconds < INLINE_SECONDS:
            try:
                outputs = self._timed_run(inputs)
            except Exception as error:
                self._fail(batch, error)
            else:
                self._deliver(batch, outputs)
            self._next(loop, queue)
            return
        done = loop.run_in_executor(self._thread, self._timed_run, inputs)
        done.add_done_callback(lambda finished: self._finished(loop, queue, batch, finished))

    def _finished(self, loop: asyncio.AbstractEventLoop, queue: _Queue, batch: list, finished: asyncio.Future) -> None:
        error = finished.exception()
        if error is not None:
            self._fail(batch, error)
        else:
            self._deliver(batch, finished.result())
        self._next(loop, queue)

    def _next(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        if queue.waiting:
            loop.call_soon(self._flush, loop, queue)
        else:
            queue.busy = False

    @staticmethod
    def _deliver(batch: list[tuple[np.ndarray, asyncio.Future]], outputs: np.ndarray) -> None:
        start = 0
        for inputs, future in batch:
            if not future.done():
                future.set_result(outputs[start : start + len(inputs)])
            start += len(inputs)

    @staticmethod
    def _fail(batch: list[tuple[np.ndarray, asyncio.Future]], error: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
