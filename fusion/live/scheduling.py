"""Scheduling, the live engine's second stage: when a window is due for inference (every ``stride`` frames once
the buffers are full, at most ``max_hz``), and the worker threads that run stages off the frame loop (inference;
ingest, so that pose on one frame overlaps drawing the previous one).

The frame loop hands the worker the newest snapshot through a single-value ``LatestSlot``: a worker still busy
with the previous one makes the loop overwrite (a skipped inference, counted), never queue.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Callable, Generic, TypeVar

from twostream.fusion.live.buffers import LatestSlot
from twostream.fusion.live.records import LiveConfig

T = TypeVar("T")


class Schedule:
    """Whether the frame just ingested makes a prediction due: every ``stride`` frames of the source — counted in
    source frames, so that frames a slow machine dropped do not slow the prediction rate down."""

    def __init__(self, config: LiveConfig):
        self.stride, self.max_hz = config.stride, config.max_hz
        self._last_index = None  # source index of the last due frame; the first full window is due at once
        self._last = -float("inf")

    def due(self, frame_index: int, ready: bool) -> bool:
        """True when the buffers are ``ready`` and ``stride`` source frames (and ``1 / max_hz`` s) have passed
        since the last due one."""
        if not ready or (self._last_index is not None and frame_index - self._last_index < self.stride):
            return False
        now = time.perf_counter()
        if self.max_hz is not None and now - self._last < 1.0 / self.max_hz:
            return False
        self._last_index, self._last = frame_index, now
        return True


class Worker(threading.Thread, Generic[T]):
    """Takes the newest request from ``requests`` and runs ``handle`` on it until ``stop``; the first error ends
    it and is kept in ``error`` for the engine to raise after the shutdown.

    A pipeline stage (``outputs``): each result of ``handle`` goes on into ``outputs`` (``lossless``: once the
    previous one was taken, as a file read as fast as possible drops nothing), and the stage ends by itself —
    ``finished`` set — when its producer is ``upstream_done`` and no request is left. With a ``gate`` it takes a
    request only after acquiring the gate (released downstream, when the request's work is done): at most the
    gate's count of requests are in flight, and a producer that is faster overwrites (drops) rather than queues.
    """

    def __init__(self, requests: LatestSlot[T], handle: Callable[[T], object], nice: int = 0, *,
                 outputs: LatestSlot | None = None, upstream_done: threading.Event | None = None,
                 lossless: bool = False, gate: threading.Semaphore | None = None, name: str = "twostream-inference"):
        super().__init__(name=name, daemon=True)
        self.requests, self.handle, self.nice = requests, handle, nice
        self.outputs, self.upstream_done, self.lossless, self.gate = outputs, upstream_done, lossless, gate
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._stop_event = threading.Event()

    def run(self) -> None:
        if self.nice:
            with contextlib.suppress(AttributeError, OSError):  # per-thread niceness: Linux only
                tid = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self.nice)
        try:
            while not self._stop_event.is_set():
                if self.gate is not None and not self.gate.acquire(timeout=0.1):
                    continue
                request, ended = self.requests.take_until(self.upstream_done)
                if request is None and self.gate is not None:
                    self.gate.release()
                if ended:
                    return
                if request is not None:
                    self._pass_on(self.handle(request))
        except BaseException as exc:  # reported by the engine after the shutdown
            self.error = exc
        finally:
            self.finished.set()
            if self.outputs is not None:
                self.outputs.wake()

    def _pass_on(self, result: object) -> None:
        if self.outputs is None:
            return
        while self.lossless and not self.outputs.wait_taken(0.1):
            if self._stop_event.is_set():
                return
        self.outputs.put(result)

    def stop(self) -> None:
        self._stop_event.set()
        self.requests.wake()
